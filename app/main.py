import gc
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import sessionmaker
from starlette.types import ASGIApp

from app.accounts.endpoints import router as accounts_router
from app.audit.endpoints import router as audit_router
from app.core.bodylimit import BodySizeLimitMiddleware
from app.core.database import build_engine, for_writing, utcnow
from app.core.errors import install_error_handlers
from app.core.headers import SecurityHeadersMiddleware, docs_policy
from app.core.health import router as health_router
from app.core.inputs import refuse_unstorable_text
from app.core.links import CurrentBaseUrlMiddleware
from app.core.logging import RequestLogMiddleware, configure_logging
from app.core.metrics import router as metrics_router
from app.core.ratelimit import DatabaseStore, MemoryStore
from app.core.settings import Settings, get_settings
from app.doctors.endpoints import router as doctors_router
from app.fhir.endpoints import router as fhir_router
from app.fhir.outcome import FhirError, fhir_error_response, install_fhir_errors
from app.geocoding.service import build_geocoding_service
from app.notifications.webhooks import router as sms_webhooks_router
from app.privacy.endpoints import router as privacy_router
from app.requests.endpoints import router as requests_router
from app.requests.reporting_endpoints import router as reporting_router
from app.requests.source_endpoints import router as sources_router
from app.snp.endpoints import router as snp_router
from app.territories.endpoints import router as territories_router
from app.web.account_pages import router as account_pages_router
from app.web.call_pages import router as call_pages_router
from app.web.directory_pages import router as directory_pages_router
from app.web.doctor_confirmation import router as doctor_confirmation_router
from app.web.doctor_pages import router as doctor_pages_router
from app.web.follow_up import router as follow_up_router
from app.web.offer_pages import router as offer_pages_router
from app.web.pages import install_page_errors
from app.web.password_pages import router as password_pages_router
from app.web.person_pages import router as person_pages_router
from app.web.privacy_page import router as privacy_page_router
from app.web.professional_pages import router as professional_pages_router
from app.web.psc_sign_in import router as psc_sign_in_router
from app.web.report_pages import router as report_pages_router
from app.web.request_form import router as request_form_router
from app.web.request_pages import router as request_pages_router
from app.web.second_factor_pages import router as second_factor_pages_router
from app.web.snp_pages import router as snp_pages_router
from app.web.territory_pages import router as territory_pages_router
from app.web.volunteer_signup import router as volunteer_signup_router
from app.web.workspace_auth import router as workspace_auth_router

STATIC_DIR = Path(__file__).parent / "static"

DESCRIPTION = """Orientation aide une CPTS à orienter les patients vers un médecin :
médecin traitant pour les personnes qui n'en ont pas, soins non programmés et SAS.

Every error answers `{"error": code, "message": text, "fields": [{"field", "message"}]}`."""


class Orientation(FastAPI):
    """The app, wrapped in its security headers outside Starlette's error middleware: the
    middleware added with add_middleware runs inside it, and a 500 would go out without them."""

    def build_middleware_stack(self) -> ASGIApp:
        docs_paths = tuple(p for p in (self.docs_url, self.redoc_url, self.swagger_ui_oauth2_redirect_url) if p)
        return SecurityHeadersMiddleware(
            super().build_middleware_stack(), self.state.settings, docs_policy(self), docs_paths
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = Orientation(
        title="Orientation",
        version="0.1.0",
        description=DESCRIPTION,
        dependencies=[Depends(refuse_unstorable_text)],  # NUL and the like, refused at the door
    )
    engine = build_engine(settings.database_url)
    app.state.settings = settings
    app.state.clock = utcnow  # tests move it
    app.state.engine = engine
    app.state.read_sessions = sessionmaker(bind=engine, expire_on_commit=False)
    app.state.write_sessions = sessionmaker(bind=for_writing(engine), expire_on_commit=False)
    # READ_DATABASE_URL: a read replica for the SAS feed and the searches (app.core.dependencies'
    # ReadSession, ReadEngine); None: they read the primary like everything else.
    replica = build_engine(settings.read_database_url) if settings.read_database_url else None
    app.state.replica_engine = replica
    app.state.replica_sessions = sessionmaker(bind=replica, expire_on_commit=False) if replica else None
    app.state.geocoding = build_geocoding_service(settings, app.state.write_sessions)
    app.state.rate_limit_store = (
        DatabaseStore(app.state.write_sessions) if settings.rate_limit_store == "database" else MemoryStore()
    )
    install_error_handlers(app)
    app.exception_handler(FhirError)(fhir_error_response)
    install_page_errors(app)  # under /espace, errors are French pages
    install_fhir_errors(app)  # under /fhir, OperationOutcomes
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        directory_upload_bytes=settings.directory_upload_max_bytes,
    )
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(CurrentBaseUrlMiddleware)  # the privacy link of messages (app.notifications.templates)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(territories_router)
    app.include_router(accounts_router)
    app.include_router(doctors_router)
    app.include_router(audit_router)
    app.include_router(reporting_router)  # before requests_router: /requests/export is not /requests/{id}
    app.include_router(requests_router)
    app.include_router(sources_router)
    app.include_router(privacy_router)
    app.include_router(snp_router)
    app.include_router(fhir_router)
    app.include_router(sms_webhooks_router)  # the SMS provider's delivery receipts
    app.include_router(doctor_confirmation_router)
    app.include_router(volunteer_signup_router)
    app.include_router(offer_pages_router)
    app.include_router(follow_up_router)
    app.include_router(privacy_page_router)
    app.include_router(password_pages_router)
    app.include_router(request_form_router)
    # The workspace of coordinators, doctors and professionals, and its own static files (no CDN).
    app.include_router(workspace_auth_router)
    app.include_router(psc_sign_in_router)
    app.include_router(request_pages_router)
    app.include_router(doctor_pages_router)
    app.include_router(territory_pages_router)
    app.include_router(directory_pages_router)
    app.include_router(professional_pages_router)
    app.include_router(report_pages_router)
    app.include_router(call_pages_router)
    app.include_router(snp_pages_router)
    app.include_router(person_pages_router)
    app.include_router(account_pages_router)
    app.include_router(second_factor_pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _freeze_startup_objects() -> None:
    # What is loaded at start and kept (the 34,920 communes and their indexes, the mappers,
    # the templates) is moved out of the garbage collector's reach: its full collections
    # no longer walk it, and pages stop pausing for 100-200 ms at random (docs/benchmarks.md).
    gc.collect()
    gc.freeze()


def create_production_app() -> FastAPI:
    """Entry point for uvicorn (`app.main:create_production_app`, factory mode)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    _freeze_startup_objects()
    return app

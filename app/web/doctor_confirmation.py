"""The page a doctor reaches from its e-mailed link: confirm, or update, its availability."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.accounts.principal import client_address
from app.core.dependencies import DbSession
from app.core.errors import field_errors_from_validation
from app.core.identifiers import french_phone
from app.doctors import service
from app.doctors.links import InvalidLink, read_link
from app.doctors.models import Doctor
from app.doctors.schemas import Availability
from app.web.templates import templates

router = APIRouter(include_in_schema=False)


def _doctor_for(request: Request, session, token: str) -> Doctor | HTMLResponse:
    try:
        doctor_id, rpps = read_link(request.app.state.settings, token)
    except InvalidLink as exc:
        return templates.TemplateResponse(
            request, "link_invalid.html", {"expired": exc.expired}, status_code=410 if exc.expired else 404
        )
    doctor = service.doctor_of_link(session, doctor_id, rpps)
    if doctor is None:
        return templates.TemplateResponse(request, "link_invalid.html", {"expired": False}, status_code=404)
    return doctor


def _page(request: Request, doctor: Doctor, status_code: int = 200, **extra) -> HTMLResponse:
    context = {
        "doctor": doctor,
        "a": extra.pop("availability", None) or service.availability_of(doctor),
        "territory_name": doctor.territory.name,
        "territory_phone": french_phone(doctor.territory.phone),
        "saved": False,
        "errors": [],
        "field_errors": {},
        **extra,
    }
    return templates.TemplateResponse(request, "doctor_confirmation.html", context, status_code=status_code)


@router.get("/medecins/confirmer/{token}", response_class=HTMLResponse)
def show(token: str, request: Request, session: DbSession) -> HTMLResponse:
    doctor = _doctor_for(request, session, token)
    return doctor if isinstance(doctor, HTMLResponse) else _page(request, doctor)


@router.post("/medecins/confirmer/{token}", response_class=HTMLResponse)
def submit(
    token: str,
    request: Request,
    session: DbSession,
    action: Annotated[str, Form()] = "confirm",
    accepting_new_patients: Annotated[str | None, Form()] = None,
    capacity_remaining: Annotated[str, Form()] = "0",
    available_until: Annotated[str, Form()] = "",
    priority_only: Annotated[str | None, Form()] = None,
    home_visits: Annotated[str | None, Form()] = None,
    home_visit_radius_km: Annotated[str, Form()] = "",
    max_distance_km: Annotated[str, Form()] = "",
    languages: Annotated[str, Form()] = "",
) -> HTMLResponse:
    doctor = _doctor_for(request, session, token)
    if isinstance(doctor, HTMLResponse):
        return doctor
    availability = None
    if action == "update":
        # The values as the form sent them, unvalidated: shown again when they are refused.
        raw: dict[str, Any] = {
            "accepting_new_patients": accepting_new_patients is not None,
            "capacity_remaining": capacity_remaining or "0",
            "available_until": available_until or None,
            "priority_only": priority_only is not None,
            "home_visits": home_visits is not None,
            "home_visit_radius_km": home_visit_radius_km or None,
            "max_distance_km": max_distance_km or None,
            "languages": [part for part in languages.replace(";", ",").split(",") if part.strip()],
        }
        try:
            availability = Availability.model_validate(raw)
        except ValidationError as exc:
            errors = field_errors_from_validation(exc.errors())
            return _page(
                request,
                doctor,
                422,
                errors=errors,
                field_errors={e.field: e.message for e in errors},
                availability=Availability.model_construct(**raw),
            )
    service.confirm_availability(session, None, doctor, availability, via_link_from=client_address(request))
    return _page(request, doctor, saved=True)

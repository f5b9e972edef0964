"""The volunteer sign-up page, for a doctor: public, reached from an invitation's signed link
(filled in from the directory) or directly. Works without JavaScript; rate-limited per address
and closed to robots by the hidden field, as the patients' questionnaire is. The coordination
decides (app/web/territory_pages.py)."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.accounts.principal import client_address
from app.core.database import all_or_nothing
from app.core.dependencies import DbSession, Geocoding
from app.core.errors import ApiError, FieldError, field_errors_from_validation
from app.core.ratelimit import INTAKE
from app.recruitment import service
from app.recruitment.links import SIGNUP_PATH, read_invitation
from app.recruitment.schemas import VolunteerSignup
from app.web.doctor_pages import _availability
from app.web.templates import templates

router = APIRouter(include_in_schema=False)

FIELDS = ("rpps", "civility", "family_name", "given_name", "email", "phone", "address", "postcode", "city", "website")
LABELS = {
    "rpps": "Numéro RPPS",
    "civility": "Civilité",
    "family_name": "Nom",
    "given_name": "Prénom",
    "email": "E-mail",
    "phone": "Téléphone",
    "address": "Adresse du cabinet",
    "postcode": "Code postal",
    "city": "Commune",
    "website": "Champ à laisser vide",
}


def _page(
    request: Request,
    context: service.SignupContext,
    values: dict[str, Any],
    availability: Any = None,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    errors = errors or []
    page = {
        "v": values,
        "a": availability,
        "errors": errors,
        "field_errors": {e.field: e.message for e in errors},
        "invitation": context.invitation,
        "territory": context.territory,
    }
    return templates.TemplateResponse(request, "volunteer_signup.html", page, status_code=status_code)


def _context(request: Request, session, token: str | None) -> service.SignupContext | HTMLResponse:
    if token is None:
        return service.SignupContext(None, None, {})
    read = read_invitation(request.app.state.settings, token)
    context = service.signup_context(session, *read) if read else None
    if context is None:
        return templates.TemplateResponse(request, "link_invalid.html", {"expired": False}, status_code=404)
    return context


@router.get(SIGNUP_PATH, response_class=HTMLResponse)
def signup(request: Request, session: DbSession) -> HTMLResponse:
    context = _context(request, session, None)
    assert not isinstance(context, HTMLResponse)
    return _page(request, context, {})


@router.get(SIGNUP_PATH + "/{token}", response_class=HTMLResponse)
def signup_invited(token: str, request: Request, session: DbSession) -> HTMLResponse:
    context = _context(request, session, token[:500])
    return context if isinstance(context, HTMLResponse) else _page(request, context, dict(context.values))


@router.post(SIGNUP_PATH, response_class=HTMLResponse, dependencies=[Depends(INTAKE)])
async def submit(request: Request, session: DbSession, geocoding: Geocoding) -> HTMLResponse:
    return await _submit(request, session, geocoding, None)


@router.post(SIGNUP_PATH + "/{token}", response_class=HTMLResponse, dependencies=[Depends(INTAKE)])
async def submit_invited(token: str, request: Request, session: DbSession, geocoding: Geocoding) -> HTMLResponse:
    return await _submit(request, session, geocoding, token[:500])


async def _submit(request: Request, session, geocoding, token: str | None) -> HTMLResponse:
    form = await request.form()
    values = {name: str(form.get(name) or "").strip()[:300] for name in FIELDS}
    return await run_in_threadpool(_submit_sync, request, session, geocoding, token, form, values)


def _submit_sync(request: Request, session, geocoding, token: str | None, form, values: dict) -> HTMLResponse:
    context = _context(request, session, token)
    if isinstance(context, HTMLResponse):
        return context
    availability, raw, availability_errors = _availability(form)
    payload = {k: v for k, v in values.items() if v}
    payload["civility"] = values["civility"] or "DR"
    errors = list(availability_errors)
    data = None
    try:
        data = VolunteerSignup.model_validate(payload | {"availability": availability or {}})
    except ValidationError as exc:
        errors += field_errors_from_validation(exc.errors(), LABELS)
    if errors or data is None:
        return _page(request, context, values, raw, errors, 422)
    try:
        with all_or_nothing(session):
            application, territory = service.submit_application(
                session, geocoding, data, context.invitation, client_address(request)
            )
    except ApiError as exc:
        fields = exc.fields or [FieldError(field="form", message=exc.message)]
        return _page(request, context, values, raw, fields, exc.status_code)
    done = {"application": application, "territory": territory}
    return templates.TemplateResponse(request, "volunteer_signup_done.html", done)

"""A professional (pharmacist, nurse…) sees the requests it submitted and submits new ones
for patients, attesting their consent. Coordinators use the same form for a patient on the
phone. The questionnaire and its rules are the public form's (app.web.request_form)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.accounts.policy import Action, submitter_kind
from app.audit.service import record_reads
from app.core.dependencies import DbSession, Geocoding
from app.core.errors import ApiError, FieldError, field_errors_from_validation
from app.core.links import public_base_url
from app.privacy.consent import current_consent
from app.requests import repository, service
from app.requests.models import PatientRequest, RequestStatus
from app.requests.receipts import receipt_channel
from app.requests.service import submit_request
from app.web.labels import of_name
from app.web.pages import render
from app.web.request_form import FIELDS, LABELS, REASONS, request_from_form
from app.web.session import Caller, page_for, redirect

router = APIRouter(prefix="/espace", include_in_schema=False)
Professional = Annotated[Caller, page_for(Action.LIST_OWN_SUBMISSIONS)]
Submitter = Annotated[Caller, page_for(Action.SUBMIT_REQUEST)]
PER_PAGE = 50


@router.get("/mes-demandes", response_class=HTMLResponse)
def my_requests(
    request: Request, caller: Professional, session: DbSession, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> HTMLResponse:
    filters = repository.QueueFilters(statuses=tuple(s.value for s in RequestStatus), fold_possible_duplicates=False)
    shown = service.queue(session, caller.principal, filters, page, PER_PAGE)  # its own only
    record_reads(session, request.app.state.write_sessions, caller.principal, "patient_request", shown.read)
    context = {
        "rows": shown.items,
        "total": shown.total,
        "page": page,
        "pages": max(1, -(-shown.total // PER_PAGE)),
    }
    return render(request, caller, "espace/my_requests.html", context)


def _form(
    request: Request, caller: Caller, values: dict, status_code: int = 200, errors=(), candidates=()
) -> HTMLResponse:
    context = {
        "v": values,
        "errors": list(errors),
        "field_errors": {e.field: e.message for e in errors},
        "candidates": list(candidates),
        "reasons": REASONS,
        "consent": current_consent(request.app.state.settings),
    }
    return render(request, caller, "espace/new_request.html", context, status_code)


@router.get("/mes-demandes/nouvelle", response_class=HTMLResponse)
def new_request(request: Request, caller: Submitter) -> HTMLResponse:
    return _form(request, caller, {})


@router.post("/mes-demandes/nouvelle", response_class=HTMLResponse)
async def submit(request: Request, caller: Submitter, session: DbSession, geocoding: Geocoding) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    values["attested"] = str(form.get("patient_consent_attested", ""))
    kind = submitter_kind(caller.principal)
    # The patient's consent is what the professional attests; the form asks for it once.
    values |= {
        "consent": "yes" if values["attested"] == "yes" else "",
        "cpts": caller.cpts or "",
        "source": "",
        "website": "",
    }
    try:
        data = request_from_form(values, submitted_by=kind, patient_consent_attested=values["attested"] == "yes")
    except ValidationError as exc:
        errors = [
            FieldError(
                field="patient_consent_attested",
                message="Accord du patient : confirmez que le patient a donné son accord.",
            )
            if e.field == "consent"
            else e
            for e in field_errors_from_validation(exc.errors(), LABELS)
        ]
        return _form(request, caller, values, 422, errors)
    public_url = public_base_url(request)
    try:
        created, duplicate, _ = await run_in_threadpool(
            submit_request, session, geocoding, caller.principal, data, public_url
        )
    except ApiError as exc:
        if exc.status_code in (403, 404):
            raise
        if any(e.field == "consent_version" for e in exc.fields):
            values["attested"] = ""  # the text changed: read it again and attest again
        return _form(
            request,
            caller,
            values,
            exc.status_code,
            exc.fields or [FieldError(field="form", message=exc.message)],
            exc.extra.get("candidates", []),
        )
    message = _said(created, duplicate) + _receipt_said(created)
    if caller.can(Action.LIST_OWN_SUBMISSIONS):
        return redirect("/espace/mes-demandes", message)
    return redirect(f"/espace/demandes/{created.id}", message)


def _receipt_said(created: PatientRequest) -> str:
    """What the professional tells the patient to expect."""
    if created.status == RequestStatus.OUT_OF_TERRITORY:
        return ""
    reach = receipt_channel(created.preferred_channel, created.phone, created.email)
    if reach is None:
        return " Le patient n'a qu'un fixe : la coordination l'appellera pour le lui confirmer."
    return (
        f" Le patient reçoit l'accusé de réception et son lien de suivi par {'SMS' if reach[0] == 'sms' else 'e-mail'}."
    )


def _said(created: PatientRequest, duplicate: bool) -> str:
    who = f"{created.given_name} {created.family_name.upper()}"
    territory = created.territory
    if created.status == RequestStatus.OUT_OF_TERRITORY or territory is None:
        return (
            f"{created.commune_name} n'est dans le territoire d'aucune CPTS de ce service : la demande {of_name(who)} "
            "est enregistrée, mais nous ne pourrons pas l'orienter."
        )
    if duplicate:
        return f"{who} avait déjà une demande en cours : ses coordonnées sont mises à jour."
    return f"Demande {of_name(who)} enregistrée par la {territory.name} ({created.commune_name})."

"""The questionnaire at `/`: French, mobile-first, works without JavaScript.

It posts to itself; errors come back next to their fields; an undecidable commune comes
back as a list of the postcode's communes to pick from."""

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.core.dependencies import DbSession, Geocoding, commit_unit_of_work
from app.core.errors import ApiError, FieldError, field_errors_from_validation
from app.core.links import public_base_url
from app.core.ratelimit import INTAKE
from app.privacy.consent import current_consent
from app.requests.models import PatientRequest, RequestStatus
from app.requests.ranking import LANGUAGE_NAMES
from app.requests.receipts import receipt_channel
from app.requests.schemas import RequestCreate
from app.requests.service import intake_territory, retired_flyer, submission_message, submit_request
from app.territories.communes import normalize_name
from app.web.templates import templates

router = APIRouter(include_in_schema=False)

REASONS = [
    ("doctor_left", "Mon médecin est parti à la retraite ou a quitté la région"),
    ("moved_in", "Je viens d'emménager"),
    ("never_had", "Je n'en ai jamais eu"),
    ("other", "Autre raison"),
]
# The questionnaire's fields as the person reads them: every error message starts with one.
LABELS = {
    "submitted_by": "Pour qui est la demande",
    "family_name": "Nom",
    "given_name": "Prénom",
    "birth_date": "Date de naissance",
    "phone": "Téléphone",
    "email": "E-mail",
    "preferred_channel": "Moyen de contact",
    "address": "Numéro et rue",
    "postcode": "Code postal",
    "city": "Commune",
    "ald": "Affection de longue durée",
    "css": "Complémentaire santé solidaire (CSS)",
    "ame": "Aide médicale de l'État (AME)",
    "needs_home_visits": "Déplacement au cabinet",
    "no_doctor_reason": "Pourquoi pas de médecin traitant",
    "languages": "Langues parlées",
    "comment": "Un mot pour la coordination",
    "consent": "Accord",
    "patient_consent_attested": "Accord du patient",
}
_FRENCH_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_LANGUAGE_CODES = {normalize_name(name): code for code, name in LANGUAGE_NAMES.items()}
FIELDS = (
    "source",
    "cpts",
    "website",
    "submitted_by",
    "family_name",
    "given_name",
    "birth_date",
    "phone",
    "email",
    "preferred_channel",
    "address",
    "postcode",
    "city",
    "ald",
    "css",
    "ame",
    "needs_home_visits",
    "no_doctor_reason",
    "languages",
    "comment",
    "consent",
    "consent_version",
)


def _page(request: Request, session, values: dict, status_code: int = 200, errors=(), candidates=()) -> HTMLResponse:
    territory = intake_territory(session, values.get("cpts"), values.get("source"))[0]
    context = {
        "v": values,
        "errors": list(errors),
        "field_errors": {e.field: e.message for e in errors},
        "candidates": list(candidates),
        "reasons": REASONS,
        "territory": territory,
        # The text shown is the one whose version the form posts back (app.privacy.consent).
        "consent": current_consent(request.app.state.settings, territory.name if territory else None),
    }
    return templates.TemplateResponse(request, "request_form.html", context, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def form(request: Request, session: DbSession, cpts: str | None = None, source: str | None = None) -> HTMLResponse:
    retired = retired_flyer(session, source)
    if retired is not None:  # an old flyer's QR code: say the campaign ended, and lead on
        context = {"source": retired, "territory": retired.territory}
        return templates.TemplateResponse(request, "source_ended.html", context)
    return _page(request, session, {"cpts": cpts, "source": source})


def _languages(text: str) -> list[str]:
    codes = []
    for word in text.replace(";", ",").replace(" et ", ",").split(","):
        word = normalize_name(word)
        if word:
            codes.append(_LANGUAGE_CODES.get(word, word))
    return codes


@router.post("/", response_class=HTMLResponse, dependencies=[Depends(INTAKE)])
async def submit(request: Request, session: DbSession, geocoding: Geocoding) -> HTMLResponse:
    form_data = await request.form()
    values = {name: str(form_data.get(name, "")).strip() for name in FIELDS}
    try:
        data = request_from_form(values)
    except ValidationError as exc:
        return _page(request, session, values, 422, field_errors_from_validation(exc.errors(), LABELS))
    public_url = public_base_url(request)

    def work() -> tuple[PatientRequest, str, str]:
        # The database work (and the geocoder's), the message (its CPTS is at hand) and the
        # commit in one hop to the thread pool: the page says "registered" once committed.
        created, duplicate, follow_up = submit_request(session, geocoding, None, data, public_url)
        message = submission_message(created, duplicate, data.cpts)
        commit_unit_of_work(session)
        return created, message, follow_up

    try:
        created, message, follow_up = await run_in_threadpool(work)
    except ApiError as exc:
        if any(e.field == "consent_version" for e in exc.fields):
            values["consent"] = ""  # the text changed: read it again and tick again
        return _page(
            request,
            session,
            values,
            exc.status_code,
            exc.fields or [FieldError(field="form", message=exc.message)],
            exc.extra.get("candidates", []),
        )
    receipt = None
    if created.status != RequestStatus.OUT_OF_TERRITORY:  # no receipt is written outside every CPTS
        receipt = receipt_channel(created.preferred_channel, created.phone, created.email) or ("phone", created.phone)
    context = {"status": created.status, "message": message, "follow_up_url": follow_up, "receipt": receipt}
    return templates.TemplateResponse(request, "request_done.html", context)


def request_from_form(values: dict[str, str], **extra: object) -> RequestCreate:
    """The questionnaire's fields (as posted, stripped) as a request; ValidationError otherwise.
    Also used by the workspace, where a professional fills it for a patient."""
    # An empty answer is no answer: "missing" then names the field ("Nom : à remplir"),
    # where None would be "a text is expected".
    payload: dict[str, object] = {
        k: values[k]
        for k in (
            "family_name",
            "given_name",
            "birth_date",
            "phone",
            "email",
            "address",
            "postcode",
            "city",
            "comment",
            "source",
            "cpts",
            "website",
            "preferred_channel",
        )
        if values[k]
    }
    if french_date := _FRENCH_DATE.match(values["birth_date"]):  # typed as people write it: 02/03/1950
        day, month, year = french_date.groups()
        payload["birth_date"] = f"{year}-{int(month):02d}-{int(day):02d}"
    payload |= {
        "submitted_by": values["submitted_by"] or "patient",
        "ald": values["ald"] == "yes",
        "css": values["css"] or "unknown",
        "ame": values["ame"] or "unknown",
        "needs_home_visits": values["needs_home_visits"] == "yes",
        "no_doctor_reason": values["no_doctor_reason"] or "other",
        "languages": _languages(values["languages"]),
        "consent": values["consent"] == "yes",
        "consent_version": values.get("consent_version") or None,
    }
    return RequestCreate.model_validate(payload | extra)

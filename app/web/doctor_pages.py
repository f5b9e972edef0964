"""The volunteer doctors: the coordination's list, edit, deactivation, reminders and CSV
import; and a signed-in doctor's own page. Rules are app.doctors'."""

from collections.abc import Sequence
from typing import Annotated, TypedDict

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from app.accounts.policy import Action
from app.core.database import all_or_nothing, utcnow
from app.core.dependencies import Communes, DbSession, Geocoding
from app.core.errors import ApiError, FieldError, NotFound, field_errors_from_validation
from app.core.inputs import DbId
from app.core.links import public_base_url
from app.doctors import reminders, repository, service
from app.doctors.importer import import_doctors, template_csv
from app.doctors.models import Doctor
from app.doctors.professions import DOCTOR, display_name
from app.doctors.schemas import Availability, DoctorCreate, DoctorUpdate
from app.doctors.specialties import GENERAL_PRACTICE, SPECIALTIES
from app.requests import offers
from app.web.pages import render
from app.web.request_pages import act
from app.web.session import Caller, page_for, redirect

router = APIRouter(prefix="/espace", include_in_schema=False)
DoctorManager = Annotated[Caller, page_for(Action.MANAGE_DOCTORS)]
DoctorCaller = Annotated[Caller, page_for(Action.EDIT_OWN_PRACTICE)]
PER_PAGE = 50
PRINT_LIMIT = 2000  # a CPTS has tens or hundreds of volunteers
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class _StateFilters(TypedDict, total=False):
    active: bool
    accepting: bool
    stale: bool


STATES: dict[str, _StateFilters] = {
    "actifs": {"active": True},
    "acceptent": {"active": True, "accepting": True},
    "complets": {"active": True, "accepting": False},
    "a-confirmer": {"active": True, "stale": True},
    "inactifs": {"active": False},
}
STATE_LABELS = {
    "actifs": "Actifs",
    "acceptent": "Acceptent de nouveaux patients",
    "complets": "Complets ou fermés",
    "a-confirmer": "À confirmer (plus de six mois)",
    "inactifs": "Désactivés",
}
AVAILABILITY_FIELDS = (
    "accepting_new_patients",
    "capacity_remaining",
    "available_until",
    "priority_only",
    "home_visits",
    "home_visit_radius_km",
    "max_distance_km",
    "languages",
)


@router.get("/medecins", response_class=HTMLResponse)
def doctors(
    request: Request,
    caller: DoctorManager,
    session: DbSession,
    etat: Annotated[str, Query(max_length=20)] = "actifs",
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    etat = etat if etat in STATES else "actifs"
    filters = repository.DoctorFilters(cpts=caller.cpts, q=q or None, **STATES[etat])
    rows, total = service.list_doctors(session, caller.principal, filters, page, PER_PAGE)
    stale_count = service.list_doctors(
        session, caller.principal, repository.DoctorFilters(cpts=caller.cpts, stale=True), 1, 1
    )[1]
    context = {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "f": {"etat": etat, "q": q},
        "stale_count": stale_count,
        "state_labels": STATE_LABELS,
    }
    return render(request, caller, "espace/doctors.html", context)


@router.post("/medecins/rappels")
def remind_all(request: Request, caller: DoctorManager, session: DbSession) -> Response:
    def do() -> str:
        if caller.cpts is None:
            raise NotFound("Aucune CPTS.")
        count = reminders.remind_stale(
            session, request.app.state.settings, public_base_url(request), caller.principal, caller.cpts
        )
        return (
            f"E-mail de confirmation envoyé à {count} médecin(s) à confirmer."
            if count
            else "Aucun médecin à confirmer."
        )

    return act(session, "/espace/medecins", do)


@router.get("/medecins/modele.csv")
def import_template(caller: DoctorManager, session: DbSession, communes: Communes) -> Response:
    """The CSV to fill in, with the header the importer expects and one example row it accepts."""
    if caller.cpts is None:
        raise NotFound("Aucune CPTS.")
    content = template_csv(session, caller.principal, caller.cpts, communes)
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="modele-import-medecins.csv"'},
    )


@router.get("/medecins/imprimer", response_class=HTMLResponse)
def print_doctors(
    request: Request,
    caller: DoctorManager,
    session: DbSession,
    etat: Annotated[str, Query(max_length=20)] = "actifs",
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    """The list with the same filters, every row on one page, for paper (app/static/workspace/print.css)."""
    etat = etat if etat in STATES else "actifs"
    filters = repository.DoctorFilters(cpts=caller.cpts, q=q or None, **STATES[etat])
    rows, total = service.list_doctors(session, caller.principal, filters, 1, PRINT_LIMIT)
    context = {"rows": rows, "total": total, "f": {"etat": etat, "q": q}, "etat_label": STATE_LABELS[etat]}
    context["now"] = utcnow()
    return render(request, caller, "espace/doctors_print.html", context)


@router.get("/medecins/import", response_class=HTMLResponse)
def import_page(request: Request, caller: DoctorManager) -> HTMLResponse:
    return render(request, caller, "espace/doctor_import.html", {"report": None})


@router.post("/medecins/import", response_class=HTMLResponse)
def import_file(
    request: Request,
    caller: DoctorManager,
    session: DbSession,
    geocoding: Geocoding,
    file: UploadFile | None = None,
    skip_invalid: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Shows the per-line report at once (nothing to redirect to: the report is the result)."""
    error = None
    report = None
    raw = file.file.read(MAX_IMPORT_BYTES + 1) if file is not None else b""
    if not raw:
        error = "Choisissez un fichier CSV."
    elif len(raw) > MAX_IMPORT_BYTES:
        error = "Fichier trop volumineux (20 Mo au plus)."
    else:
        try:
            report = import_doctors(
                session, geocoding, caller.principal, caller.cpts or "", raw, skip_invalid=skip_invalid is not None
            )
        except ApiError as exc:
            if exc.status_code in (403, 404):
                raise
            error = exc.message
    status_code = 422 if error else 200
    return render(request, caller, "espace/doctor_import.html", {"report": report, "error": error}, status_code)


def _availability(form: FormData) -> tuple[Availability | None, dict, list[FieldError]]:
    """The availability fieldset of a doctor's form: (availability, raw values, errors)."""

    def text(name: str) -> str:
        return str(form.get(name) or "").strip()

    raw = {
        "accepting_new_patients": form.get("accepting_new_patients") is not None,
        "capacity_remaining": text("capacity_remaining") or "0",
        "available_until": text("available_until") or None,
        "priority_only": form.get("priority_only") is not None,
        "home_visits": form.get("home_visits") is not None,
        "home_visit_radius_km": text("home_visit_radius_km") or None,
        "max_distance_km": text("max_distance_km") or None,
        "languages": [p for p in text("languages").replace(";", ",").split(",") if p.strip()],
    }
    try:
        return Availability.model_validate(raw), raw, []
    except ValidationError as exc:
        return None, raw, field_errors_from_validation(exc.errors())


def _doctor_page(
    request: Request,
    caller: Caller,
    doctor: Doctor,
    template: str,
    status_code: int = 200,
    values: dict | None = None,
    errors=(),
    extra: dict | None = None,
) -> HTMLResponse:
    a = values or service.availability_of(doctor).model_dump()
    typed = values or {}
    context = {
        "d": doctor,
        "identity": {name: typed[name] if name in typed else getattr(doctor, name) for name in IDENTITY_FIELDS},
        "a": a,
        "errors": list(errors),
        "field_errors": {e.field: e.message for e in errors},
        "stale": doctor.is_stale(),
        "specialties": SPECIALTIES,
        "pending_offers": [],
        **(extra or {}),
    }
    return render(request, caller, template, context, status_code)


# The doctor's form, field by field as the coordinator reads it: every error names its field.
DOCTOR_LABELS = {
    "rpps": "RPPS",
    "civility": "Civilité",
    "family_name": "Nom",
    "given_name": "Prénom",
    "profession": "Profession",
    "specialty": "Spécialité",
    "email": "E-mail",
    "phone": "Téléphone",
    "locations.0.address": "Adresse du cabinet",
    "locations.0.postcode": "Code postal du cabinet",
    "locations.0.city": "Commune du cabinet",
    "locations.0.phone": "Téléphone du cabinet",
}
IDENTITY_FIELDS = ("civility", "family_name", "given_name", "profession", "specialty", "email", "phone")
PRACTICE_FIELDS = ("address", "postcode", "city", "location_phone")


def _who(doctor: Doctor) -> str:
    return display_name(doctor.profession, doctor.given_name, doctor.family_name)


def _form_field(field: str) -> str:
    """The form's input for a field of DoctorCreate (`locations.0.city` is `city`)."""
    if field == "locations.0.phone":
        return "location_phone"
    for prefix in ("locations.0.", "availability."):
        if field.startswith(prefix):
            return field[len(prefix) :]
    return field


def _on_form(errors: list[FieldError]) -> list[FieldError]:
    return [FieldError(field=_form_field(e.field), message=e.message) for e in errors]


def _typed(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name) or "").strip() for name in names}


def _new_doctor_page(
    request: Request, caller: Caller, values: dict, errors: Sequence[FieldError] = (), status_code: int = 200
) -> HTMLResponse:
    context = {
        "v": values,
        "a": values,
        "errors": list(errors),
        "field_errors": {e.field: e.message for e in errors},
        "specialties": SPECIALTIES,
    }
    return render(request, caller, "espace/doctor_new.html", context, status_code)


@router.get("/medecins/nouveau", response_class=HTMLResponse)
def new_doctor(request: Request, caller: DoctorManager) -> HTMLResponse:
    values = {"civility": "DR", "profession": DOCTOR, "specialty": GENERAL_PRACTICE, **Availability().model_dump()}
    return _new_doctor_page(request, caller, values)


@router.post("/medecins/nouveau", response_class=HTMLResponse)
async def create_doctor(request: Request, caller: DoctorManager, session: DbSession, geocoding: Geocoding) -> Response:
    form = await request.form()
    return await _run(create_doctor_sync, request, caller, session, geocoding, form)


def create_doctor_sync(request: Request, caller: Caller, session, geocoding, form: FormData) -> Response:
    """The API's rules (app.doctors.service.create_doctor): the RPPS key, the practice's commune
    in the CPTS, the geocoding, the audit. A refusal shows the form again, as typed."""
    availability, raw, errors = _availability(form)
    typed = _typed(form, ("rpps", *IDENTITY_FIELDS, *PRACTICE_FIELDS))
    wheelchair = form.get("wheelchair_accessible") is not None
    values = raw | typed | {"wheelchair_accessible": wheelchair}
    # The specialty select is a doctor's: for any other profession it is not sent (none is kept).
    profession = typed["profession"] or DOCTOR
    payload = {
        "cpts": caller.cpts or "",
        "rpps": typed["rpps"],
        "civility": typed["civility"] or "DR",
        "family_name": typed["family_name"],
        "given_name": typed["given_name"],
        "profession": profession,
        "specialty": (typed["specialty"] or GENERAL_PRACTICE) if profession == DOCTOR else None,
        "email": typed["email"],
        "phone": typed["phone"] or None,
        "locations": [
            {
                "address": typed["address"],
                "postcode": typed["postcode"],
                "city": typed["city"],
                "phone": typed["location_phone"] or None,
                "wheelchair_accessible": wheelchair,
            }
        ],
    }
    try:
        data = DoctorCreate.model_validate(payload | {"availability": availability or Availability()})
    except ValidationError as exc:
        errors = [*_on_form(field_errors_from_validation(exc.errors(), DOCTOR_LABELS)), *errors]
    if errors:
        return _new_doctor_page(request, caller, values, errors, 422)
    try:
        with all_or_nothing(session):  # a refused doctor leaves nothing behind
            doctor = service.create_doctor(session, geocoding, caller.principal, data)
    except ApiError as exc:
        if exc.status_code in (403, 404):
            raise
        fields = exc.fields or [FieldError(field="rpps" if exc.status_code == 409 else "form", message=exc.message)]
        return _new_doctor_page(request, caller, values, _on_form(fields), 422)
    return redirect(
        f"/espace/medecins/{doctor.id}",
        f"Fiche de {_who(doctor)} créée : proposée aux patients selon ses disponibilités.",
    )


@router.get("/medecins/{doctor_id}", response_class=HTMLResponse)
def doctor(doctor_id: DbId, request: Request, caller: DoctorManager, session: DbSession) -> HTMLResponse:
    return _doctor_page(request, caller, service.get_doctor(session, caller.principal, doctor_id), "espace/doctor.html")


@router.post("/medecins/{doctor_id}", response_class=HTMLResponse)
async def save_doctor(
    doctor_id: DbId, request: Request, caller: DoctorManager, session: DbSession, geocoding: Geocoding
) -> Response:
    form = await request.form()
    return await _run(save_doctor_sync, doctor_id, request, caller, session, geocoding, form)


async def _run(function, *args):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


def save_doctor_sync(doctor_id: int, request: Request, caller: Caller, session, geocoding, form: FormData) -> Response:
    doctor = service.get_doctor(session, caller.principal, doctor_id)
    availability, raw, errors = _availability(form)
    # What the form sent of the identity (a form without a field leaves it as it is); an
    # emptied name is refused by DoctorUpdate ("à remplir"), an emptied phone removes it.
    identity: dict[str, str | None] = {
        name: str(form.get(name) or "").strip() for name in IDENTITY_FIELDS if form.get(name) is not None
    }
    identity = {k: (v or None) if k in ("phone", "email") else v for k, v in identity.items()}
    if identity.get("profession", doctor.profession) != DOCTOR:  # the specialty select is a doctor's
        identity.pop("specialty", None)
    if "email" in identity and identity["email"] is None:  # the API keeps an e-mail it is not sent
        errors = [*errors, FieldError(field="email", message="E-mail : à remplir.")]
    data = None
    if availability is not None and not errors:
        try:
            data = DoctorUpdate.model_validate({"availability": availability, **identity})
        except ValidationError as exc:
            errors = field_errors_from_validation(exc.errors(), DOCTOR_LABELS)
    if data is not None:
        try:
            with all_or_nothing(session):  # a refused change leaves nothing; the form shows what was typed
                service.update_doctor(session, geocoding, caller.principal, doctor_id, data)
        except ApiError as exc:
            if exc.status_code in (403, 404):
                raise
            errors = exc.fields or [FieldError(field="form", message=exc.message)]
    if errors:
        return _doctor_page(request, caller, doctor, "espace/doctor.html", 422, raw | identity, errors)
    return act(
        session, f"/espace/medecins/{doctor_id}", lambda: "Fiche enregistrée ; disponibilités confirmées pour six mois."
    )


@router.post("/medecins/{doctor_id}/desactiver")
def deactivate(doctor_id: DbId, caller: DoctorManager, session: DbSession) -> Response:
    def do() -> str:
        d = service.set_active(session, caller.principal, doctor_id, False)
        return f"{_who(d)} est désactivé : il n'est plus proposé aux patients."

    return act(session, f"/espace/medecins/{doctor_id}", do)


@router.post("/medecins/{doctor_id}/reactiver")
def reactivate(doctor_id: DbId, caller: DoctorManager, session: DbSession) -> Response:
    def do() -> str:
        d = service.set_active(session, caller.principal, doctor_id, True)
        return f"{_who(d)} est de nouveau actif."

    return act(session, f"/espace/medecins/{doctor_id}", do)


@router.post("/medecins/{doctor_id}/psc")
def allow_psc_sign_in(
    doctor_id: DbId,
    caller: DoctorManager,
    session: DbSession,
    geocoding: Geocoding,
    allowed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """The coordination lets (or no longer lets) the doctor's first Pro Santé Connect sign-in
    make its account (app.accounts.service.psc_account)."""

    def do() -> str:
        data = DoctorUpdate(psc_sign_in_allowed=allowed == "yes")
        d = service.update_doctor(session, geocoding, caller.principal, doctor_id, data)
        if d.psc_sign_in_allowed:
            return f"{_who(d)} pourra ouvrir son compte avec Pro Santé Connect."
        return f"La connexion de {_who(d)} par Pro Santé Connect n'ouvrira pas de compte."

    return act(session, f"/espace/medecins/{doctor_id}", do)


@router.post("/medecins/{doctor_id}/rappel")
def remind(doctor_id: DbId, request: Request, caller: DoctorManager, session: DbSession) -> Response:
    def do() -> str:
        d = reminders.remind_one(
            session, request.app.state.settings, public_base_url(request), caller.principal, doctor_id
        )
        return f"E-mail de confirmation envoyé à {_who(d)} ({d.email})."

    return act(session, f"/espace/medecins/{doctor_id}", do)


# A signed-in doctor: its own record and capacity only (slots come with the SNP domain).
def _own(session, caller: Caller) -> Doctor:
    if caller.principal.doctor_id is None:
        raise NotFound("Aucune fiche de médecin n'est liée à votre compte : contactez la coordination.")
    return service.get_doctor(session, caller.principal, caller.principal.doctor_id)


@router.get("/mon-cabinet", response_class=HTMLResponse)
def my_practice(request: Request, caller: DoctorCaller, session: DbSession) -> HTMLResponse:
    doctor = _own(session, caller)
    # The offers waiting for its answer (app/requests/offers.py), each with its private link's page.
    pending = [
        (offers.view(session, offer), offers.offer_url(request.app.state.settings, "", offer))
        for offer in offers.pending_offers_of_doctor(session, caller.principal, doctor.id)
    ]
    return _doctor_page(request, caller, doctor, "espace/my_practice.html", extra={"pending_offers": pending})


@router.post("/mon-cabinet", response_class=HTMLResponse)
async def save_my_practice(request: Request, caller: DoctorCaller, session: DbSession) -> Response:
    form = await request.form()
    return await _run(_save_my_practice, request, caller, session, form)


def _save_my_practice(request: Request, caller: Caller, session, form: FormData) -> Response:
    doctor = _own(session, caller)
    availability, raw, errors = _availability(form)
    if availability is None:
        return _doctor_page(request, caller, doctor, "espace/my_practice.html", 422, raw, errors)
    service.confirm_availability(session, caller.principal, doctor, availability)
    return act(
        session,
        "/espace/mon-cabinet",
        lambda: (
            f"Disponibilités enregistrées : {availability.capacity_remaining} place(s) "
            "pour de nouveaux patients. Merci !"
        ),
    )

"""Unscheduled care in the workspace: the day/week board of slots, publishing slots and
patterns, the search for a caller, booking (by the coordination, or by a SAS regulator
arriving from the SAS with the signed link of the slot), cancelling and recording the outcome.

Every rule is app.snp's; these pages read the form, call the service, and show the result."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.accounts.policy import Action, books_from_sas
from app.audit.service import record_reads
from app.core.database import all_or_nothing, utcnow
from app.core.dependencies import DbSession, Geocoding, ReadSession
from app.core.errors import ApiError, Forbidden, NotFound
from app.core.inputs import BoundedDate, DbId, parse_row_id
from app.doctors import service as doctors_service
from app.doctors.professions import PROFESSIONS, display_name
from app.snp import repository, service
from app.snp.models import AGE_BANDS, HAS_DOCTOR, AppointmentType, SlotKind, SlotStatus
from app.snp.rules import PARIS, is_bookable
from app.snp.sas_links import MAX_TOKEN_LENGTH, sas_booking_links
from app.snp.schemas import BookingCreate, PatternCreate, SlotCreate, SlotOut
from app.web.pages import render
from app.web.request_pages import act, refusal
from app.web.session import Caller, page_for, redirect

BASE = "/espace/soins-non-programmes"
router = APIRouter(prefix=BASE, include_in_schema=False)
Searcher = Annotated[Caller, page_for(Action.SEARCH_SLOTS)]
Publisher = Annotated[Caller, page_for(Action.MANAGE_SLOTS)]
Viewer = Annotated[Caller, page_for(Action.SEE_SLOTS)]
Canceller = Annotated[Caller, page_for(Action.CANCEL_BOOKING)]
Booker = Annotated[Caller, page_for(Action.BOOK_SLOT, Action.BOOK_SLOT_FROM_SAS)]

KINDS: dict[str, str] = {
    SlotKind.SURGERY: "Au cabinet",
    SlotKind.HOME_VISIT: "Visite à domicile",
    SlotKind.TELECONSULTATION: "Téléconsultation",
}
VISIBILITIES = {"SNP": "Régulation SAS (SNP)", "CPTS": "CPTS", "PRO": "Professionnels", "PUBLIC": "Grand public"}
WEEKDAYS = {1: "lundi", 2: "mardi", 3: "mercredi", 4: "jeudi", 5: "vendredi", 6: "samedi", 7: "dimanche"}
OUTCOMES = {"fulfilled": "Venu", "noshow": "Absent"}
BOOKING_STATUS = {"booked": "Réservé", "cancelled": "Annulé", "fulfilled": "Venu", "noshow": "Absent"}


def _today() -> date:
    return utcnow().astimezone(PARIS).date()


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=PARIS)


def _owners(session, caller: Caller) -> tuple[list, list]:
    """Whom the caller may publish for: its doctors (or itself) and the CPTS's centres."""
    in_territory = (
        caller.territory.id if caller.can(Action.MANAGE_CPTS_SLOTS) and caller.territory is not None else None
    )
    doctors = doctors_service.publishers(session, caller.principal, in_territory)  # names only: the board's select
    centres = (
        []
        if not caller.can(Action.MANAGE_CPTS_SLOTS)
        else [
            c
            for c in service.centres(session, caller.principal)
            if caller.territory is None or c.territory == caller.territory.slug
        ]
    )
    return doctors, centres


@router.get("", response_class=HTMLResponse)
def board(
    request: Request,
    caller: Viewer,
    session: DbSession,
    jour: Annotated[BoundedDate | None, Query()] = None,
    vue: Annotated[str, Query(pattern="^(jour|semaine)$")] = "jour",
    medecin: Annotated[DbId | None, Query()] = None,
) -> HTMLResponse:
    """The board: per day, per doctor (or centre) and place, its slots, free, booked or walk-in."""
    day = jour or _today()
    days = 1 if vue == "jour" else 7
    start, end = _at(day, time()), _at(day + timedelta(days=days), time())
    territory_id = (
        caller.territory.id
        if caller.territory is not None and not caller.can(Action.EDIT_OWN_PRACTICE)  # a doctor: all its own
        else None
    )
    slots = service.slots(
        session, caller.principal, repository.SlotFilters(start, end, territory_id=territory_id, doctor_id=medecin)
    )
    bookings = service.bookings_of_slots(session, [s.id for s in slots])
    if bookings:  # patients' names are on screen: who saw them goes to the audit trail
        record_reads(
            session,
            request.app.state.write_sessions,
            caller.principal,
            "snp_booking",
            [(b.id, b.territory_id) for b in bookings.values()],
        )
    grouped: dict[date, dict[tuple[str, str], list[SlotOut]]] = defaultdict(lambda: defaultdict(list))
    for slot in slots:
        grouped[slot.start.astimezone(PARIS).date()][(slot.owner, slot.place)].append(slot)
    doctors, centres = _owners(session, caller)
    context = {
        "day": day,
        "vue": vue,
        "days": [day + timedelta(days=n) for n in range(days)],
        "grouped": grouped,
        "bookings": bookings,
        "now": utcnow(),
        "previous": day - timedelta(days=days),
        "next": day + timedelta(days=days),
        "today": _today(),
        "doctors": doctors,
        "centres": centres,
        "medecin": medecin,
        "kinds": KINDS,
        "visibilities": VISIBILITIES,
        "weekdays": WEEKDAYS,
        "outcomes": OUTCOMES,
        "booking_status": BOOKING_STATUS,
        "patterns": service.patterns(session, caller.principal),
        "counts": {
            "free": sum(s.status == SlotStatus.FREE and s.appointment_type == AppointmentType.BOOKABLE for s in slots),
            "booked": sum(s.status == SlotStatus.BOOKED for s in slots),
            "walk_in": sum(s.appointment_type == AppointmentType.WALK_IN for s in slots),
        },
        "names": {d.id: display_name(d.profession, d.given_name, d.family_name) for d in doctors}
        | {-c.id: c.name for c in centres},
        "age_bands": AGE_BANDS,
        "has_doctor": HAS_DOCTOR,
    }
    return render(request, caller, "espace/snp_board.html", context)


def _owner_fields(owner: str) -> dict:
    """'d12' → a doctor, 'c3' → a centre (the board's select)."""
    number = parse_row_id(owner[1:])
    if owner[:1] == "d" and number is not None:
        return {"doctor_id": number}
    if owner[:1] == "c" and number is not None:
        return {"centre_id": number}
    return {"doctor_id": None}


def _offer(
    caller: Caller, owner: str, kind: str, visibility: list[str], walk_in: str | None, worked_by: str = ""
) -> dict:
    fields = _owner_fields(owner) if caller.can(Action.MANAGE_CPTS_SLOTS) else {"doctor_id": caller.principal.doctor_id}
    doctor = parse_row_id(worked_by) if worked_by else None
    if "centre_id" in fields and doctor is not None:  # the doctor who works the centre's slot
        fields["worked_by_doctor_id"] = doctor
    return fields | {
        "kind": kind,
        "visibility": visibility or ["SNP", "CPTS"],
        "appointment_type": (AppointmentType.WALK_IN if walk_in else AppointmentType.BOOKABLE).value,
    }


@router.post("/creneaux")
def create_slot(
    caller: Publisher,
    session: DbSession,
    owner: Annotated[str, Form(max_length=12)] = "",
    day: Annotated[BoundedDate | None, Form()] = None,
    start: Annotated[time | None, Form()] = None,
    end: Annotated[time | None, Form()] = None,
    kind: Annotated[str, Form(max_length=3)] = SlotKind.SURGERY.value,
    visibility: Annotated[list[str], Form()] = [],  # noqa: B006
    walk_in: Annotated[str | None, Form()] = None,
    worked_by: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    back = f"{BASE}?jour={day.isoformat()}" if day else BASE

    def do() -> str:
        if day is None or start is None or end is None:
            raise ValueError
        offer = _offer(caller, owner, kind, visibility, walk_in, worked_by)
        data = SlotCreate(**offer, start=_at(day, start), end=_at(day, end))
        slot = service.create_slot(session, caller.principal, data)
        return f"Créneau ajouté le {day:%d/%m/%Y} de {start:%H:%M} à {end:%H:%M} (n° {slot.id})."

    try:
        return act(session, back, do)
    except ValueError:
        return redirect(back, "Indiquez le jour, l'heure de début et l'heure de fin.", "error")


@router.post("/recurrences")
def create_pattern(
    caller: Publisher,
    session: DbSession,
    owner: Annotated[str, Form(max_length=12)] = "",
    weekdays: Annotated[list[int], Form()] = [],  # noqa: B006
    start: Annotated[time | None, Form()] = None,
    end: Annotated[time | None, Form()] = None,
    minutes: Annotated[int, Form(ge=5, le=240)] = 20,
    first_date: Annotated[BoundedDate | None, Form()] = None,
    weeks: Annotated[int, Form(ge=1, le=52)] = 4,
    kind: Annotated[str, Form(max_length=3)] = SlotKind.SURGERY.value,
    visibility: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    walk_in: Annotated[str | None, Form()] = None,
    worked_by: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    def do() -> str:
        data = PatternCreate(
            **_offer(caller, owner, kind, visibility, walk_in, worked_by),
            weekdays=weekdays,
            start_time=start,
            end_time=end,
            slot_minutes=minutes,
            first_date=first_date or _today(),
            weeks=weeks,
        )
        out = service.create_pattern(session, caller.principal, data)
        days = ", ".join(WEEKDAYS[d] for d in out.weekdays)
        return (
            f"Récurrence enregistrée ({days}, {out.start_time:%H:%M}–{out.end_time:%H:%M}, {weeks} semaine(s)) : "
            f"{out.slots_created} créneau(x) créé(s)."
        )

    return act(session, BASE, do)


@router.post("/recurrences/{pattern_id}/supprimer")
def delete_pattern(pattern_id: DbId, caller: Publisher, session: DbSession) -> Response:
    def do() -> str:
        out = service.delete_pattern(session, caller.principal, pattern_id)
        kept = f" ; {out.booked_slots_kept} créneau(x) réservé(s) conservé(s)" if out.booked_slots_kept else ""
        return f"Récurrence arrêtée : {out.slots_removed} créneau(x) libre(s) retiré(s){kept}."

    return act(session, BASE, do)


@router.post("/creneaux/{slot_id}/supprimer")
def delete_slot(
    slot_id: DbId, caller: Publisher, session: DbSession, jour: Annotated[str, Form(max_length=10)] = ""
) -> Response:
    def do() -> str:
        service.delete_slot(session, caller.principal, slot_id)
        return "Créneau retiré."

    return act(session, f"{BASE}?jour={jour}" if jour else BASE, do)


@router.get("/recherche", response_class=HTMLResponse)
def search(
    request: Request,
    caller: Searcher,
    reads: ReadSession,
    geocoding: Geocoding,
    code_postal: Annotated[str, Query(max_length=5)] = "",
    commune: Annotated[str, Query(max_length=100)] = "",
    type: Annotated[str, Query(max_length=3)] = "",
    distance: Annotated[str, Query(max_length=3)] = "",
    heures: Annotated[int, Query(ge=1, le=336)] = 48,
    profession: Annotated[str, Query(max_length=2)] = "",
) -> HTMLResponse:
    """Free slots for a caller: by their commune, the next 48 hours first, of one profession if chosen."""
    answer, error = None, None
    candidates: list[dict[str, str]] = []
    form = {
        "code_postal": code_postal,
        "commune": commune,
        "type": type,
        "distance": distance,
        "heures": heures,
        "profession": profession,
    }
    if caller.territory is None:
        raise NotFound("Choisissez d'abord une CPTS.")
    if code_postal or request.query_params:
        try:
            point = (
                service.patient_point(reads.session, geocoding, None, None, code_postal, commune or None, None)
                if code_postal
                else None
            )
            answer = service.search(
                reads,
                caller.principal,
                caller.territory,
                point,
                None,
                utcnow() + timedelta(hours=heures),
                type if type in KINDS else None,
                float(distance) if distance.isascii() and distance.isdigit() else None,
                None,
                profession or None,
            )
        except (ApiError, ValidationError) as exc:
            error = refusal(exc)
            # The communes of that postcode, when the one typed is not among them: offered as links.
            candidates = exc.extra.get("candidates", []) if isinstance(exc, ApiError) else []
    context = {
        "answer": answer,
        "error": error,
        "candidates": candidates,
        "f": form,
        "kinds": KINDS,
        "professions": PROFESSIONS,
    }
    return render(request, caller, "espace/snp_search.html", context, 422 if error else 200)


def _from_sas(request: Request, slot_id: int, sas_token: str | None) -> bool:
    """Arriving from the SAS: holding the signed link the /fhir feed gave for this slot."""
    return sas_booking_links(request.app).valid(slot_id, sas_token, utcnow())


def _bookable(session, request: Request, caller: Caller, slot_id: int, sas_token: str | None) -> SlotOut:
    """The slot, as this caller may book it: a regulator only with the SAS's link for that slot
    (app.snp.sas_links); the SAS is national, so any CPTS's slot the SAS sees (visible(Slot))."""
    if books_from_sas(caller.principal) and not _from_sas(request, slot_id, sas_token):
        raise Forbidden(
            "Le compte de régulation sert à réserver depuis le SAS : ouvrez le créneau depuis la plateforme SAS "
            "(le lien d'un créneau est valable pour ce créneau, pendant une durée limitée)."
        )
    return service.slot_view(session, caller.principal, slot_id)


def _booking_page(
    request: Request, caller: Caller, slot: SlotOut, sas_token: str | None, status_code: int = 200, **extra
) -> HTMLResponse:
    start = slot.start.astimezone(PARIS)
    from_sas = books_from_sas(caller.principal)  # it reached this page with a valid link
    context = {
        "slot": slot,
        "kind": KINDS.get(slot.kind, slot.kind),
        "origin": "sas" if from_sas else "",
        "sas_token": sas_token if from_sas else "",
        "when": f"{start:%d/%m/%Y} de {start:%H:%M} à {slot.end.astimezone(PARIS):%H:%M}",
        "day": start.date(),
        "values": {},
        "age_bands": AGE_BANDS,
        "has_doctor": HAS_DOCTOR,
        "error": None,
        "taken": not is_bookable(slot.status, slot.appointment_type, slot.start, utcnow()),
        **extra,
    }
    return render(request, caller, "espace/snp_book.html", context, status_code)


@router.get("/creneaux/{slot_id}/reserver", response_class=HTMLResponse)
def booking_form(
    slot_id: DbId,
    request: Request,
    caller: Booker,
    session: DbSession,
    sas: Annotated[str | None, Query(max_length=MAX_TOKEN_LENGTH)] = None,
) -> HTMLResponse:
    """The slot's booking page: the booking URL the SAS receives in Slot.comment (with
    origin=sas, informative, and sas, the signed token that lets a regulator in)."""
    return _booking_page(request, caller, _bookable(session, request, caller, slot_id, sas), sas)


@router.post("/creneaux/{slot_id}/reserver", response_class=HTMLResponse)
def book(
    slot_id: DbId,
    request: Request,
    caller: Booker,
    session: DbSession,
    family_name: Annotated[str, Form(max_length=100)] = "",
    given_name: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
    age_band: Annotated[str, Form(max_length=5)] = "",
    has_doctor: Annotated[str, Form(max_length=7)] = "",
    sas: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)] = "",
) -> Response:
    slot = _bookable(session, request, caller, slot_id, sas or None)
    values = {
        "family_name": family_name,
        "given_name": given_name,
        "phone": phone,
        "email": email,
        "reason": reason,
        "age_band": age_band,
        "has_doctor": has_doctor,
    }
    try:
        optional = ("email", "age_band", "has_doctor")
        data = BookingCreate(**{k: v for k, v in values.items() if v or k not in optional})
        with all_or_nothing(session):  # a refused booking leaves nothing; the page shows the slot as it is
            booking = service.book(
                session,
                request.app.state.settings,
                caller.principal,
                slot.id,
                data,
                origin="sas" if books_from_sas(caller.principal) else "cpts",
            )
    except (ApiError, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, ApiError) else 422
        fresh = service.slot_view(session, caller.principal, slot.id)
        return _booking_page(request, caller, fresh, sas, status, values=values, error=refusal(exc))
    message = (
        f"Rendez-vous réservé pour {booking.given_name} {booking.family_name} le "
        f"{slot.start.astimezone(PARIS):%d/%m/%Y à %H:%M} ; le patient reçoit une confirmation."
    )
    if books_from_sas(caller.principal):
        return render(request, caller, "espace/snp_booked.html", {"slot": slot, "booking": booking, "message": message})
    return redirect(f"{BASE}?jour={slot.start.astimezone(PARIS).date().isoformat()}", message)


@router.post("/rendez-vous/{booking_id}/annuler")
def cancel(
    request: Request,
    booking_id: DbId,
    caller: Canceller,
    session: DbSession,
    jour: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def do() -> str:
        booking = service.cancel(session, request.app.state.settings, caller.principal, booking_id)
        return f"Rendez-vous de {booking.given_name} {booking.family_name} annulé ; le créneau est de nouveau libre."

    return act(session, f"{BASE}?jour={jour}" if jour else BASE, do)


@router.post("/rendez-vous/{booking_id}/resultat")
def outcome(
    request: Request,
    booking_id: DbId,
    caller: Publisher,
    session: DbSession,
    resultat: Annotated[str, Form(max_length=10)] = "",
    jour: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def do() -> str:
        if resultat not in OUTCOMES:
            raise NotFound("Résultat inconnu.")
        booking = service.record_outcome(session, request.app.state.settings, caller.principal, booking_id, resultat)
        return f"{booking.given_name} {booking.family_name} : « {OUTCOMES[resultat]} » enregistré."

    return act(session, f"{BASE}?jour={jour}" if jour else BASE, do)


WalkInRecorder = Annotated[Caller, page_for(Action.RECORD_WALK_IN)]


@router.post("/passages")
def record_walk_in(
    caller: WalkInRecorder,
    session: DbSession,
    owner: Annotated[str, Form(max_length=12)] = "",
    age_band: Annotated[str, Form(max_length=10)] = "",
    has_doctor: Annotated[str, Form(max_length=10)] = "",
    jour: Annotated[BoundedDate | None, Form()] = None,
) -> Response:
    """A passage without a booking, for FICHE 6's report: the age band, then whether the patient
    has a médecin traitant (each answer is a button: two clicks)."""

    def do() -> str:
        fields = (
            _owner_fields(owner) if caller.can(Action.MANAGE_CPTS_SLOTS) else {"doctor_id": caller.principal.doctor_id}
        )
        service.record_walk_in(
            session,
            caller.principal,
            fields.get("doctor_id"),
            fields.get("centre_id"),
            age_band or None,
            has_doctor or None,
        )
        band = AGE_BANDS.get(age_band, "âge non renseigné").lower()
        answer = HAS_DOCTOR.get(has_doctor, "non renseigné").lower()
        return f"Passage sans rendez-vous enregistré : {band}, médecin traitant : {answer}."

    return act(session, f"{BASE}?jour={jour.isoformat()}" if jour else BASE, do)

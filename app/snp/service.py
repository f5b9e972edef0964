"""The rules of unscheduled care: who may publish which slot, patterns, the search for a
patient, and booking exactly once."""

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.access import may_act_in
from app.accounts.policy import Action, booking_action, ensure, may_publish_for
from app.accounts.principal import Principal
from app.audit.service import record
from app.core.constraints import flush_or_conflict
from app.core.database import Reads, execute_dml, utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.core.identifiers import french_phone
from app.core.settings import Settings
from app.doctors import service as doctors
from app.doctors.models import Doctor
from app.doctors.professions import DOCTOR, PROFESSIONS, UNKNOWN_PROFESSION, display_name
from app.doctors.repository import get_visible as visible_doctor
from app.doctors.schemas import LocationIn
from app.geocoding.distance import great_circle_km
from app.geocoding.service import GeocodingService
from app.notifications.models import OutboxMessage
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.snp import repository
from app.snp.models import (
    AGE_BANDS,
    HAS_DOCTOR,
    Booking,
    BookingStatus,
    Centre,
    Slot,
    SlotKind,
    SlotPattern,
    SlotStatus,
    WalkIn,
)
from app.snp.repository import SasSlotRow
from app.snp.rules import (
    DEFAULT_SEARCH_HOURS,
    PARIS,
    SLOT_TAKEN,
    PatternSpec,
    expand,
    sas_serves,
    served_to_sas,
    visibility_from_codes,
    why_not_bookable,
)
from app.snp.schemas import (
    BookingCreate,
    BookingOut,
    CentreCreate,
    CentreOut,
    PatternCreate,
    PatternOut,
    SearchAnswer,
    SearchResult,
    SlotCreate,
    SlotOffer,
    SlotOut,
)
from app.territories import repository as territories_repository
from app.territories.models import Territory
from app.territories.residency import check_residency

MAX_SEARCH_DAYS = 14


def _field_error(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, fields=[FieldError(field=field, message=message)])


def territory_in_scope(session: Session, principal: Principal, slug: str) -> Territory:
    """A CPTS the caller acts in, named by its slug (a `cpts` parameter): 422 otherwise."""
    territory = territories_repository.get_by_slug(session, slug, with_communes=False)
    if territory is None or not may_act_in(principal, territory.id):
        raise Unprocessable(
            f"Aucune de vos CPTS n'est « {slug} ».", fields=[FieldError(field="cpts", message="CPTS inconnue.")]
        )
    return territory


def bookings_of_slots(session: Session, slot_ids: list[int]) -> dict[int, Booking]:
    """The live booking of each of these slots (already read within the caller's scope)."""
    return repository.live_bookings_of_slots(session, slot_ids)


# ---- Who offers a slot ------------------------------------------------------------------


class Offer:
    """The resolved owner of a slot or pattern: a doctor at one of its practices, or a centre."""

    def __init__(
        self,
        territory_id: int,
        doctor: Doctor | None,
        location_id: int | None,
        centre: Centre | None,
        worked_by: Doctor | None = None,
    ):
        self.territory_id, self.doctor, self.location_id, self.centre = territory_id, doctor, location_id, centre
        self.worked_by = worked_by  # a centre's slot: the doctor who works it

    @property
    def profession(self) -> str:
        return practitioner_profession(self.doctor, self.worked_by)


def practitioner_profession(doctor: Doctor | None, worked_by: Doctor | None) -> str:
    """The profession of the practitioner a slot is served under (app.snp.rules): its own, or the
    one working a centre's slot; a centre's slot naming nobody counts as a doctor's."""
    practitioner = doctor or worked_by
    return practitioner.profession if practitioner is not None else DOCTOR


def resolve_offer(session: Session, principal: Principal, offer: SlotOffer) -> Offer:
    if offer.centre_id is not None:
        if not may_publish_for(principal, None):
            raise Forbidden("Seule la coordination gère les créneaux du centre.")
        centre = repository.get_centre(session, principal, offer.centre_id)
        if centre is None:
            raise _field_error("centre_id", "Centre inconnu dans vos CPTS.")
        return Offer(centre.territory_id, None, None, centre, _centre_doctor(session, principal, centre, offer))
    if not may_publish_for(principal, offer.doctor_id):
        raise Forbidden("Un médecin publie ses propres créneaux.")
    doctor = visible_doctor(session, principal, offer.doctor_id) if offer.doctor_id is not None else None
    if doctor is None:
        raise _field_error("doctor_id", "Médecin inconnu dans vos CPTS.")
    if not doctor.active:
        raise _field_error("doctor_id", "Ce médecin est désactivé.")
    location = repository.doctor_location(session, doctor, offer.location_id)
    if location is None:
        raise _field_error("location_id", "Lieu d'exercice inconnu pour ce médecin.")
    return Offer(doctor.territory_id, doctor, location.id, None)


def _centre_doctor(session: Session, principal: Principal, centre: Centre, offer: SlotOffer) -> Doctor | None:
    """The doctor named to work a centre's slot: a doctor of the centre's CPTS, active. A
    replacement need not take new patients (the registry's volunteers for a médecin traitant)."""
    if offer.worked_by_doctor_id is None:
        return None
    doctor = visible_doctor(session, principal, offer.worked_by_doctor_id)
    if doctor is None or doctor.territory_id != centre.territory_id:
        raise _field_error("worked_by_doctor_id", "Médecin inconnu dans la CPTS du centre.")
    if not doctor.active:
        raise _field_error("worked_by_doctor_id", "Ce médecin est désactivé.")
    return doctor


def _overlapping(session: Session, owner: Offer, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Existing slots of the same doctor (or centre place) meeting [start, end)."""
    if owner.doctor is not None:
        same_owner = Slot.doctor_id == owner.doctor.id
    elif owner.centre is not None:
        same_owner = Slot.centre_id == owner.centre.id
    else:  # resolve_offer always gives one or the other
        raise ValueError("a slot is offered by a doctor or a centre")
    return list(
        session.execute(
            select(Slot.start_at, Slot.end_at).where(same_owner, Slot.start_at < end, Slot.end_at > start)
        ).all()
    )


def _new_slot(owner: Offer, offer: SlotOffer, start: datetime, end: datetime, pattern_id: int | None) -> dict:
    visibility = visibility_from_codes(offer.visibility)
    return {
        "territory_id": owner.territory_id,
        "doctor_id": owner.doctor.id if owner.doctor else None,
        "location_id": owner.location_id,
        "centre_id": owner.centre.id if owner.centre else None,
        "worked_by_doctor_id": owner.worked_by.id if owner.worked_by else None,
        "pattern_id": pattern_id,
        "start_at": start,
        "end_at": end,
        "kind": offer.kind,
        "visibility": visibility,
        "sas_visible": served_to_sas(visibility, owner.profession),
        "appointment_type": offer.appointment_type,
        "status": SlotStatus.FREE.value,
        "created_at": utcnow(),
    }


# ---- Slots --------------------------------------------------------------------------------


def create_slot(session: Session, principal: Principal, data: SlotCreate) -> Slot:
    owner = resolve_offer(session, principal, data)
    start, end = data.start.astimezone(UTC), data.end.astimezone(UTC)
    if end <= utcnow():
        raise _field_error("end", "Ce créneau est déjà passé.")
    if _overlapping(session, owner, start, end):
        raise Conflict("Ce créneau chevauche un créneau existant de ce médecin ou de ce centre.")
    slot = Slot(**_new_slot(owner, data, start, end, None))
    session.add(slot)
    session.flush()
    record(session, principal, "create", "slot", slot.id, slot.territory_id)
    return slot


def delete_slot(session: Session, principal: Principal, slot_id: int) -> None:
    slot = repository.get_slot(session, principal, slot_id)
    if slot is None:
        raise NotFound("Créneau introuvable.")
    if slot.status != SlotStatus.FREE.value:
        raise Conflict("Ce créneau est réservé : annulez d'abord le rendez-vous.")
    record(session, principal, "delete", "slot", slot.id, slot.territory_id)
    session.delete(slot)


def slot_view(session: Session, principal: Principal, slot_id: int) -> SlotOut:
    """A slot as `principal` may see it (a regulator: as the SAS does), with its booking: 404 otherwise."""
    view = repository.visible_slot_view(session, principal, slot_id)
    if view is None:
        raise NotFound("Créneau introuvable.")
    booking_id = repository.live_bookings_by_slot(session, [view.id]).get(view.id)
    return SlotOut.from_view(view, booking_id)


def slots(session: Session, principal: Principal, filters: repository.SlotFilters) -> list[SlotOut]:
    """The board's slots (at most 2,000), soonest first, each with its live booking's id."""
    views = repository.list_slots(session, principal, filters)
    bookings = repository.live_bookings_by_slot(session, [v.id for v in views])
    return [SlotOut.from_view(v, bookings.get(v.id)) for v in views]


# ---- Patterns -----------------------------------------------------------------------------


def _last_date(data: PatternCreate) -> date:
    return data.last_date or data.first_date + timedelta(weeks=data.weeks or 1, days=-1)


def _generate(session: Session, pattern: SlotPattern, owner: Offer, offer: SlotOffer, not_before: datetime) -> int:
    """Inserts the pattern's future slots, skipping any that would meet an existing slot."""
    spec = PatternSpec(
        pattern.weekdays,
        pattern.start_time,
        pattern.end_time,
        pattern.slot_minutes,
        pattern.first_date,
        pattern.last_date,
    )
    wanted = [(s, e) for s, e in expand(spec) if s >= not_before]
    if not wanted:
        return 0
    taken = _overlapping(session, owner, wanted[0][0], wanted[-1][1])
    rows = [
        _new_slot(owner, offer, s, e, pattern.id) for s, e in wanted if not any(ts < e and te > s for ts, te in taken)
    ]
    if rows:
        session.execute(Slot.__table__.insert(), rows)
    return len(rows)


def create_pattern(session: Session, principal: Principal, data: PatternCreate) -> PatternOut:
    owner = resolve_offer(session, principal, data)
    pattern = SlotPattern(
        territory_id=owner.territory_id,
        doctor_id=owner.doctor.id if owner.doctor else None,
        location_id=owner.location_id,
        centre_id=owner.centre.id if owner.centre else None,
        worked_by_doctor_id=owner.worked_by.id if owner.worked_by else None,
        weekdays=data.weekdays,
        start_time=data.start_time,
        end_time=data.end_time,
        slot_minutes=data.slot_minutes,
        first_date=data.first_date,
        last_date=_last_date(data),
        kind=data.kind,
        visibility=visibility_from_codes(data.visibility),
        appointment_type=data.appointment_type,
        created_by_user_id=principal.user_id,
    )
    session.add(pattern)
    session.flush()
    created = _generate(session, pattern, owner, data, utcnow())
    record(session, principal, "create", "slot_pattern", pattern.id, pattern.territory_id)
    return pattern_out(session, pattern, created=created)


def _remove_free_future_slots(session: Session, pattern: SlotPattern) -> tuple[int, int]:
    """Deletes the pattern's free future slots; booked ones are never touched."""
    now = utcnow()
    removed = execute_dml(
        session,
        delete(Slot)
        .where(Slot.pattern_id == pattern.id, Slot.status == SlotStatus.FREE.value, Slot.start_at > now)
        .execution_options(synchronize_session=False),
    ).rowcount
    booked = session.execute(
        select(func.count())
        .select_from(Slot)
        .where(Slot.pattern_id == pattern.id, Slot.status != SlotStatus.FREE.value, Slot.start_at > now)
    ).scalar_one()
    return removed, booked


def update_pattern(session: Session, principal: Principal, pattern_id: int, data: PatternCreate) -> PatternOut:
    pattern = repository.get_pattern(session, principal, pattern_id)
    if pattern is None or not pattern.active:
        raise NotFound("Récurrence introuvable.")
    owner = resolve_offer(session, principal, data)
    if owner.territory_id != pattern.territory_id:
        raise _field_error("doctor_id", "Une récurrence reste dans sa CPTS.")
    removed, booked = _remove_free_future_slots(session, pattern)
    for name, value in {
        "doctor_id": owner.doctor.id if owner.doctor else None,
        "location_id": owner.location_id,
        "centre_id": owner.centre.id if owner.centre else None,
        "worked_by_doctor_id": owner.worked_by.id if owner.worked_by else None,
        "weekdays": data.weekdays,
        "start_time": data.start_time,
        "end_time": data.end_time,
        "slot_minutes": data.slot_minutes,
        "first_date": data.first_date,
        "last_date": _last_date(data),
        "kind": data.kind,
        "visibility": visibility_from_codes(data.visibility),
        "appointment_type": data.appointment_type,
        "updated_at": utcnow(),
    }.items():
        setattr(pattern, name, value)
    session.flush()
    created = _generate(session, pattern, owner, data, utcnow())
    record(session, principal, "update", "slot_pattern", pattern.id, pattern.territory_id)
    return pattern_out(session, pattern, created=created, removed=removed, kept=booked)


def delete_pattern(session: Session, principal: Principal, pattern_id: int) -> PatternOut:
    pattern = repository.get_pattern(session, principal, pattern_id)
    if pattern is None or not pattern.active:
        raise NotFound("Récurrence introuvable.")
    removed, booked = _remove_free_future_slots(session, pattern)
    pattern.active = False
    pattern.updated_at = utcnow()
    record(session, principal, "delete", "slot_pattern", pattern.id, pattern.territory_id)
    return pattern_out(session, pattern, removed=removed, kept=booked)


def pattern_out(
    session: Session, pattern: SlotPattern, created: int = 0, removed: int = 0, kept: int = 0
) -> PatternOut:
    slug = repository.territory_slugs(session, [pattern.territory_id])[pattern.territory_id]
    return PatternOut.from_row(pattern, slug, created, removed, kept)


def patterns(session: Session, principal: Principal) -> list[PatternOut]:
    """The caller's active patterns."""
    rows = repository.list_patterns(session, principal)
    slugs = repository.territory_slugs(session, {p.territory_id for p in rows})
    return [PatternOut.from_row(p, slugs[p.territory_id]) for p in rows]


# ---- Centres ------------------------------------------------------------------------------


def create_centre(session: Session, geocoding: GeocodingService, principal: Principal, data: CentreCreate) -> Centre:
    territory = doctors.territory_for(session, principal, data.cpts)
    place = doctors.locate_practice(
        session,
        geocoding,
        territory,
        LocationIn(address=data.address, postcode=data.postcode, city=data.city),
        "centre",
    )
    centre = Centre(
        territory_id=territory.id,
        name=data.name,
        address=data.address,
        postcode=data.postcode,
        insee_code=place.insee_code,
        city=place.city,
        latitude=place.latitude,
        longitude=place.longitude,
        phone=data.phone,
    )
    session.add(centre)
    session.flush()
    record(session, principal, "create", "snp_centre", centre.id, territory.id)
    return centre


def centres(session: Session, principal: Principal) -> list[CentreOut]:
    rows = repository.list_centres(session, principal)
    slugs = repository.territory_slugs(session, {c.territory_id for c in rows})
    return [CentreOut.from_row(c, slugs[c.territory_id]) for c in rows]


def centre_out(session: Session, centre: Centre) -> CentreOut:
    return CentreOut.from_row(centre, repository.territory_slugs(session, [centre.territory_id])[centre.territory_id])


# ---- Search for a patient -----------------------------------------------------------------


def patient_point(
    session: Session,
    geocoding: GeocodingService,
    latitude: float | None,
    longitude: float | None,
    postcode: str | None,
    city: str | None,
    address: str | None,
) -> tuple[float, float] | None:
    if latitude is not None and longitude is not None:
        return latitude, longitude
    if postcode:
        placement = check_residency(session, geocoding, postcode, city, address).placement
        if placement.location is not None:
            return placement.location.latitude, placement.location.longitude
    return None


def centre_fallback_notice(start: datetime, end: datetime) -> str:
    """What the search says when it offers the centre's slots: no doctor's slot in the window."""
    hours = round((end - start).total_seconds() / 3600)
    span = f"{hours} h" if hours < 72 or hours % 24 else f"{hours // 24} jours"
    return f"Aucun créneau de médecin dans les {span} : créneaux du centre"


def search(
    reads: Reads,
    principal: Principal,
    territory: Territory,
    point: tuple[float, float] | None,
    start: datetime | None,
    end: datetime | None,
    kind: str | None,
    max_distance_km: float | None,
    doctor_id: int | None,
    profession: str | None = None,
) -> SearchAnswer:
    """Free bookable slots of the CPTS in the window (default: the next 48 h), soonest first
    and, at the same time, nearest first; of one profession if given (RPPS code, 10 médecin).
    The centre is the fallback (FICHE 6, "à défaut de disponibilités"): the practitioners' slots
    that fit come alone; the centre's come too only when no doctor's (profession 10) does, and
    the answer says so (`centre_fallback`, `notice`). Read from the replica when `reads` has
    one, each slot confirmed free on the primary (a replica lags: a slot booked there may not be yet)."""
    now = utcnow()
    start = max(start.astimezone(UTC) if start else now, now)
    end = end.astimezone(UTC) if end else start + timedelta(hours=DEFAULT_SEARCH_HOURS)
    if end <= start:
        raise _field_error("to", "La fin de la période doit suivre son début.")
    if end - start > timedelta(days=MAX_SEARCH_DAYS):
        raise _field_error("to", f"La recherche couvre au plus {MAX_SEARCH_DAYS} jours.")
    if profession is not None and profession not in PROFESSIONS:
        raise _field_error("profession", UNKNOWN_PROFESSION)
    if max_distance_km is not None and point is None:
        raise _field_error("postcode", "Une distance maximale suppose la commune ou la position du patient.")
    slots = repository.bookable_slots_in_window(
        reads.session, principal, territory.id, now, start, end, kind, doctor_id, profession
    )
    if reads.from_replica:
        free = repository.free_slot_ids(reads.primary, [slot.id for slot in slots])
        slots = [slot for slot in slots if slot.id in free]
    results: list[tuple[datetime, float, repository.SlotView, float | None]] = []
    for slot in slots:
        distance = None
        remote = slot.kind == SlotKind.TELECONSULTATION  # no distance to a teleconsultation
        if point is not None and slot.latitude is not None and slot.longitude is not None and not remote:
            distance = great_circle_km(point[0], point[1], slot.latitude, slot.longitude)
        if max_distance_km is not None and not remote and (distance is None or distance > max_distance_km):
            continue
        results.append((slot.start_at, distance if distance is not None else 0.0, slot, distance))
    results.sort(key=lambda r: (r[0], r[1], r[2].id))
    practitioners = [r for r in results if r[2].doctor_id is not None]
    doctors_fit = any(r[2].profession == DOCTOR for r in practitioners)
    fallback = not doctors_fit and any(r[2].centre_id is not None for r in results)
    results = results if fallback else practitioners
    return SearchAnswer(
        window_start=start,
        window_end=end,
        doctors_examined=len({(s.doctor_id, s.centre_id) for s in slots}),
        slots_examined=len(slots),
        centre_fallback=fallback,
        notice=centre_fallback_notice(start, end) if fallback else None,
        items=[
            SearchResult(slot=SlotOut.from_view(slot), distance_km=round(d, 1) if d is not None else None)
            for _, _, slot, d in results[:200]
        ],
    )


# ---- Booking ------------------------------------------------------------------------------


def _when(slot: Slot) -> str:
    local = slot.start_at.astimezone(PARIS)
    return local.strftime("%d/%m/%Y à %H:%M")


def _enqueue_patient_message(session: Session, booking: Booking, slot: Slot, cancelled: bool) -> None:
    territory = session.get_one(Territory, booking.territory_id)
    doctor, centre = slot.doctor, slot.centre
    if doctor is not None:
        who = display_name(doctor.profession, doctor.given_name, doctor.family_name)  # "Dr" for a doctor only
    elif centre is not None:
        worked_by = slot.worked_by
        who = centre.name + (f" (Dr {worked_by.given_name} {worked_by.family_name})" if worked_by else "")
    else:  # the schema's doctor_or_centre constraint
        raise ValueError("a slot is a doctor's or a centre's")
    if slot.kind == SlotKind.TELECONSULTATION:
        where = "en téléconsultation (le lien vous sera envoyé)"
    elif slot.kind == SlotKind.HOME_VISIT:
        where = "en visite à domicile"
    elif slot.location is not None:
        where = f"{slot.location.address}, {slot.location.city}"
    elif centre is not None:
        where = f"{centre.address}, {centre.city}"
    else:  # a doctor's slot at a practice always has its location
        raise ValueError("a doctor's slot in person has a location")
    if booking.phone.startswith(("+336", "+337")):
        channel, recipient = "sms", booking.phone
    elif booking.email:
        channel, recipient = "email", booking.email
    else:
        return  # a landline and no e-mail: the caller was told on the phone
    subject, body = render(
        "snp_booking",
        channel,
        given_name=booking.given_name,
        when=_when(slot),
        who=who,
        where=where,
        territory=territory.name,
        territory_phone=french_phone(territory.phone),
        cancelled=cancelled,
    )
    enqueue(
        session,
        kind="snp_booking",
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        territory_id=booking.territory_id,
        booking_id=booking.id,
    )


def _enqueue_sas_push(session: Session, settings: Settings, booking: Booking, slot: Slot) -> None:
    """The appointment to the SAS platform (FrAppointmentSAS), after the previous push of the
    same booking: creation first, then each status change."""
    from app.fhir.appointments import appointment_resource, operator_of  # translation only

    if not settings.sas_base_url or booking.sas_appointment_id is None:
        return
    previous = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.booking_id == booking.id, OutboxMessage.channel == "sas")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    if previous is None:
        recipient = "POST Appointment"
    else:
        recipient = f"PUT Appointment?identifier={settings.appointment_identifier_system}|{booking.sas_appointment_id}"
    # FrAppointmentOperator is required (1..1): the one the platform was first told, else the
    # regulator's identifier (national first), else our own identifier of the account.
    operator = (
        (operator_of(previous.body) if previous is not None else None)
        or regulator_identifier(session, booking.booked_by_user_id)
        or (settings.appointment_identifier_system, f"regulateur-{booking.booked_by_user_id or 0}", "INTRN")
    )
    body = appointment_resource(settings, booking, slot, operator)
    enqueue(
        session,
        kind="sas_appointment",
        channel="sas",
        recipient=recipient,
        body=body,
        territory_id=booking.territory_id,
        booking_id=booking.id,
        after=previous,
    )


def regulator_identifier(session: Session, user_id: int | None) -> tuple[str, str, str] | None:
    """(system, value, type) of a regulator: the national identifier when it has one."""
    from app.snp.models import RegulatorIdentifier

    rows = session.scalars(select(RegulatorIdentifier).where(RegulatorIdentifier.user_id == user_id)).all()
    rows = sorted(rows, key=lambda r: r.kind != "IDNPS")
    return (rows[0].system, rows[0].value, rows[0].kind) if rows else None


def book(
    session: Session, settings: Settings, principal: Principal, slot_id: int, data: BookingCreate, origin: str
) -> Booking:
    refused = (
        "Seule la régulation du SAS réserve depuis le SAS."
        if origin == "sas"
        else "Votre rôle ne permet pas de réserver."
    )
    ensure(principal, booking_action(origin), refused)
    slot = repository.get_slot(session, principal, slot_id)  # a regulator: a SAS-visible slot of any CPTS
    if slot is None or (origin == "sas" and not sas_serves(practitioner_profession(slot.doctor, slot.worked_by))):
        raise NotFound("Créneau introuvable.")
    now = utcnow()
    refusal = why_not_bookable(slot.status, slot.appointment_type, slot.start_at, now)
    if refusal is not None:
        raise Conflict(refusal)
    if not repository.mark_booked(session, slot.id, now):
        raise Conflict(SLOT_TAKEN)
    booking = Booking(
        slot_id=slot.id,
        territory_id=slot.territory_id,
        family_name=data.family_name,
        given_name=data.given_name,
        phone=data.phone,
        email=data.email,
        reason=data.reason,
        age_band=data.age_band,
        has_doctor=data.has_doctor,
        origin=origin,
        booked_by_user_id=principal.user_id,
        sas_appointment_id=str(uuid.uuid4()) if origin == "sas" else None,
    )
    session.add(booking)
    _flush_booking(session)
    set_committed_value(slot, "status", SlotStatus.BOOKED.value)  # written by mark_booked; no second UPDATE
    record(session, principal, "create", "snp_booking", booking.id, booking.territory_id)
    _enqueue_patient_message(session, booking, slot, cancelled=False)
    _enqueue_sas_push(session, settings, booking, slot)
    return booking


def _flush_booking(session: Session) -> None:
    """Writes the new booking now, for its id. The live-booking unique index is the last guard
    against a second booking of the slot: tripping it is a lost race, a 409 the booking page
    can answer with (core/constraints.py), never a 500. A race only the commit discovers
    becomes the same 409 where the request's unit of work commits."""
    flush_or_conflict(session)


def get_booking(session: Session, principal: Principal, booking_id: int) -> Booking:
    """A booking the caller may see: 404 otherwise."""
    booking = repository.get_booking(session, principal, booking_id)
    if booking is None:
        raise NotFound("Rendez-vous introuvable.")
    return booking


def sas_free_slots(connection: Connection, rpps: list[str], start: datetime, end: datetime) -> list[SasSlotRow]:
    """The SAS's search (INT_R04): the free slots it may see of these doctors, in the window."""
    return repository.sas_free_slots(connection, rpps, start, end)


def sas_feed_versions(connection: Connection, rpps: list[str]) -> list[tuple[int, int]]:
    """The feed's check: each active doctor of these RPPS and the version of what it shows."""
    return repository.sas_feed_versions(connection, rpps)


def sas_fragment_rows(
    connection: Connection, doctor_ids: list[int], start: datetime, end: datetime
) -> list[tuple[int, SasSlotRow]]:
    """What the feed's fragments of these doctors are built from, with the version it is."""
    return repository.sas_fragment_rows(connection, doctor_ids, start, end)


def sas_centre_schedule(session: Session, doctor_id: int, centre_id: int) -> SasSlotRow | None:
    """A centre's place as the SAS reads it, under a doctor who works SAS-visible slots there."""
    return repository.sas_centre_schedule(session, doctor_id, centre_id)


def confirmed_free_on_primary(primary: Connection, rows: list[SasSlotRow]) -> list[SasSlotRow]:
    """The SAS feed's rows read from a replica, less those the primary no longer has free: a
    replica lags behind the primary, and a slot booked there must never be offered as free."""
    free = free_on_primary(primary, [row.slot_id for row in rows])
    return [row for row in rows if row.slot_id in free]


def free_on_primary(primary: Connection, slot_ids: list[int]) -> set[int]:
    """Which of the slots a replica offered the primary still has free (the feed's fragments,
    read from a replica, are checked here slot by slot before any is served)."""
    return repository.free_slot_ids(primary, slot_ids)


def sas_free_slot(session: Session, slot_id: int) -> SasSlotRow | None:
    """One free slot the SAS may see (its read of a Slot)."""
    return repository.sas_free_slot(session, slot_id)


def booking_out(session: Session, booking: Booking) -> BookingOut:
    """A booking with its slot and its messages (and their delivery state)."""
    slot = SlotOut.from_view(repository.slot_view(session, booking.slot_id), booking.id)
    return BookingOut.from_row(booking, slot, repository.booking_messages(session, booking.id))


def _booking_for_change(
    session: Session, principal: Principal, booking_id: int, action: Action = Action.MANAGE_SLOTS
) -> Booking:
    booking = repository.get_booking(session, principal, booking_id)
    if booking is None:
        raise NotFound("Rendez-vous introuvable.")
    ensure(principal, action)
    return booking


def cancel(session: Session, settings: Settings, principal: Principal, booking_id: int) -> Booking:
    booking = _booking_for_change(session, principal, booking_id, Action.CANCEL_BOOKING)
    if booking.status != BookingStatus.BOOKED.value:
        raise Conflict("Seul un rendez-vous à venir peut être annulé.")
    booking.status = BookingStatus.CANCELLED.value
    booking.updated_at = utcnow()
    session.flush()  # the live-booking index must see the cancellation before the slot is free
    repository.mark_free(session, booking.slot_id)
    record(session, principal, "cancel", "snp_booking", booking.id, booking.territory_id)
    _enqueue_patient_message(session, booking, booking.slot, cancelled=True)
    _enqueue_sas_push(session, settings, booking, booking.slot)
    return booking


def record_outcome(
    session: Session, settings: Settings, principal: Principal, booking_id: int, outcome: str
) -> Booking:
    booking = _booking_for_change(session, principal, booking_id)
    if booking.status == BookingStatus.CANCELLED.value:
        raise Conflict("Ce rendez-vous a été annulé.")
    if booking.slot.start_at > utcnow():
        raise Conflict("Le rendez-vous n'a pas encore eu lieu.")
    booking.status = outcome
    booking.updated_at = utcnow()
    record(session, principal, outcome, "snp_booking", booking.id, booking.territory_id)
    _enqueue_sas_push(session, settings, booking, booking.slot)
    return booking


# ---- Passages without a booking (FICHE 6's report) -------------------------------------------


def record_walk_in(
    session: Session,
    principal: Principal,
    doctor_id: int | None,
    centre_id: int | None,
    age_band: str | None,
    has_doctor: str | None,
) -> WalkIn:
    """A patient seen without a booking, at a centre of the CPTS or by a doctor: the report's
    two anonymous answers and the time, nothing else. The coordination records for any of its
    centres and doctors, a doctor for itself (the same rule as publishing a slot)."""
    ensure(principal, Action.RECORD_WALK_IN)
    if age_band is not None and age_band not in AGE_BANDS:
        raise _field_error("age_band", "Tranche d'âge inconnue.")
    if has_doctor is not None and has_doctor not in HAS_DOCTOR:
        raise _field_error("has_doctor", "Réponse inconnue : oui, non ou ne sait pas.")
    if centre_id is not None:
        if not may_publish_for(principal, None):
            raise Forbidden("Seule la coordination enregistre les passages du centre.")
        centre = repository.get_centre(session, principal, centre_id)
        if centre is None:
            raise _field_error("centre_id", "Centre inconnu dans vos CPTS.")
        territory_id = centre.territory_id
    else:
        if not may_publish_for(principal, doctor_id):
            raise Forbidden("Un médecin enregistre ses propres passages.")
        doctor = visible_doctor(session, principal, doctor_id) if doctor_id is not None else None
        if doctor is None:
            raise _field_error("doctor_id", "Médecin inconnu dans vos CPTS.")
        territory_id = doctor.territory_id
    walk_in = WalkIn(
        territory_id=territory_id,
        centre_id=centre_id,
        doctor_id=None if centre_id is not None else doctor_id,
        age_band=age_band,
        has_doctor=has_doctor,
        seen_at=utcnow(),
        recorded_by_user_id=principal.user_id,
    )
    session.add(walk_in)
    session.flush()
    record(session, principal, "create", "snp_walk_in", walk_in.id, territory_id)
    return walk_in

"""Queries of unscheduled care, scoped to who is asking (app.accounts.access)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Integer, String, any_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased, joinedload, lazyload

from app.accounts.access import sas_visible_clause, visible
from app.accounts.principal import Principal
from app.core.database import execute_dml
from app.doctors.models import Doctor, PracticeLocation
from app.doctors.professions import DOCTOR, display_name
from app.notifications.models import OutboxMessage
from app.snp.models import (
    AGE_BANDS,
    HAS_DOCTOR,
    REPORT_COLUMNS,
    Booking,
    BookingStatus,
    Centre,
    Slot,
    SlotPattern,
    SlotStatus,
    WalkIn,
)
from app.snp.rules import bookable_clause, sas_practitioner_clause, sas_visible_value
from app.territories.models import Territory


def _slot_with_place() -> tuple:
    # Built on call: options made at import time would configure the mappers too early.
    return (
        joinedload(Slot.doctor).options(lazyload(Doctor.locations), lazyload(Doctor.territory)),
        joinedload(Slot.location),
        joinedload(Slot.centre),
        joinedload(Slot.worked_by).options(lazyload(Doctor.locations), lazyload(Doctor.territory)),
    )


def get_slot(session: Session, principal: Principal, slot_id: int) -> Slot | None:
    return session.scalars(
        select(Slot).options(*_slot_with_place()).where(Slot.id == slot_id, visible(Slot, principal))
    ).one_or_none()


@dataclass(frozen=True)
class SlotFilters:
    start: datetime
    end: datetime
    territory_id: int | None = None
    doctor_id: int | None = None
    centre_id: int | None = None
    status: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class SlotView:
    """A slot as lists and searches show it: plain columns, read in one query."""

    id: int
    territory_id: int
    doctor_id: int | None
    location_id: int | None
    centre_id: int | None
    pattern_id: int | None
    start_at: datetime
    end_at: datetime
    kind: str
    visibility: int
    appointment_type: str
    status: str
    doctor_given_name: str | None
    doctor_family_name: str | None
    address: str | None
    postcode: str | None
    city: str | None
    latitude: float | None
    longitude: float | None
    centre_name: str | None
    territory_slug: str
    worked_by_doctor_id: int | None
    worked_by_given_name: str | None
    worked_by_family_name: str | None
    # The practitioner's RPPS profession: the slot's own, else the one working a centre's slot.
    profession: str | None

    @property
    def doctor_name(self) -> str | None:
        if self.doctor_id is None or self.profession is None:
            return None
        return display_name(self.profession, self.doctor_given_name or "", self.doctor_family_name or "")

    @property
    def worked_by_name(self) -> str | None:
        if self.worked_by_doctor_id is None or self.profession is None:
            return None
        return display_name(self.profession, self.worked_by_given_name or "", self.worked_by_family_name or "")

    @property
    def place(self) -> str:
        where = f"{self.address}, {self.postcode} {self.city}" if self.address else ""
        return f"{self.centre_name}, {where}" if self.centre_name else where


_WORKED_BY = aliased(Doctor, name="worked_by")
_PROFESSION = func.coalesce(Doctor.profession, _WORKED_BY.profession)


def _views():
    return (
        select(
            Slot.id,
            Slot.territory_id,
            Slot.doctor_id,
            Slot.location_id,
            Slot.centre_id,
            Slot.pattern_id,
            Slot.start_at,
            Slot.end_at,
            Slot.kind,
            Slot.visibility,
            Slot.appointment_type,
            Slot.status,
            Doctor.given_name,
            Doctor.family_name,
            func.coalesce(PracticeLocation.address, Centre.address),
            func.coalesce(PracticeLocation.postcode, Centre.postcode),
            func.coalesce(PracticeLocation.city, Centre.city),
            func.coalesce(PracticeLocation.latitude, Centre.latitude),
            func.coalesce(PracticeLocation.longitude, Centre.longitude),
            Centre.name,
            Territory.slug,
            Slot.worked_by_doctor_id,
            _WORKED_BY.given_name,
            _WORKED_BY.family_name,
            _PROFESSION,
        )
        .join(Territory, Territory.id == Slot.territory_id)
        .outerjoin(Doctor, Doctor.id == Slot.doctor_id)
        .outerjoin(PracticeLocation, PracticeLocation.id == Slot.location_id)
        .outerjoin(Centre, Centre.id == Slot.centre_id)
        .outerjoin(_WORKED_BY, _WORKED_BY.id == Slot.worked_by_doctor_id)
    )


def slot_view(session: Session, slot_id: int) -> SlotView:
    return SlotView(*session.execute(_views().where(Slot.id == slot_id)).one())


def visible_slot_view(session: Session, principal: Principal, slot_id: int) -> SlotView | None:
    """The slot as `principal` may see it (a regulator: a SAS-visible slot of any CPTS). One query."""
    row = session.execute(_views().where(Slot.id == slot_id, visible(Slot, principal))).first()
    return SlotView(*row) if row else None


def list_slots(session: Session, principal: Principal, filters: SlotFilters, limit: int = 2000) -> list[SlotView]:
    query = (
        _views()
        .where(visible(Slot, principal), Slot.start_at < filters.end, Slot.end_at > filters.start)
        .order_by(Slot.start_at, Slot.id)
        .limit(limit)
    )
    for column, value in (
        (Slot.territory_id, filters.territory_id),
        (Slot.doctor_id, filters.doctor_id),
        (Slot.centre_id, filters.centre_id),
        (Slot.status, filters.status),
        (Slot.kind, filters.kind),
    ):
        if value is not None:
            query = query.where(column == value)
    return [SlotView(*row) for row in session.execute(query)]


def bookable_slots_in_window(
    session: Session,
    principal: Principal,
    territory_id: int,
    now: datetime,
    start: datetime,
    end: datetime,
    kind: str | None,
    doctor_id: int | None,
    profession: str | None = None,
) -> list[SlotView]:
    """One CPTS's slots bookable at `now` starting in the window (index on territory, status, start),
    of one profession if given (a centre's slot naming nobody counts as a doctor's)."""
    query = (
        _views()
        .where(
            visible(Slot, principal),
            Slot.territory_id == territory_id,
            bookable_clause(now),
            Slot.start_at >= start,
            Slot.start_at <= end,
        )
        .order_by(Slot.start_at, Slot.id)
    )
    if kind is not None:
        query = query.where(Slot.kind == kind)
    if doctor_id is not None:
        query = query.where(Slot.doctor_id == doctor_id)
    if profession is not None:
        query = query.where(func.coalesce(_PROFESSION, DOCTOR) == profession)
    return [SlotView(*row) for row in session.execute(query)]


def free_slot_ids(executor: Session | Connection, slot_ids: list[int]) -> set[int]:
    """Which of these slots are free now, by primary key: on the primary, the confirmation of
    slots a read replica offered (already read there through visibility, or the SAS's clause)."""
    if not slot_ids:
        return set()
    dialect = executor.get_bind().dialect if isinstance(executor, Session) else executor.dialect
    if dialect.name == "postgresql":
        wanted = Slot.id == any_(bindparam("ids", slot_ids, type_=ARRAY(Integer)))  # one parameter, however many
    else:
        wanted = Slot.id.in_(slot_ids)
    rows = executor.execute(select(Slot.id).where(wanted, Slot.status == SlotStatus.FREE.value))
    return {row[0] for row in rows}


def resync_sas_visibility(session: Session, doctor_id: int, profession: str) -> None:
    """A practitioner's profession changed: its slots (its own, and the centres' it works) are
    SAS-visible again as app.snp.rules says for the new one."""
    execute_dml(
        session,
        update(Slot)
        .where(or_(Slot.doctor_id == doctor_id, Slot.worked_by_doctor_id == doctor_id))
        .values(sas_visible=sas_visible_value(profession))
        .execution_options(synchronize_session=False),
    )


def mark_booked(session: Session, slot_id: int, now: datetime) -> bool:
    """Bookable → booked in one conditional UPDATE: of concurrent attempts, exactly one
    changes the row; the others see 0 rows and get a 409."""
    result = execute_dml(
        session,
        update(Slot)
        .where(Slot.id == slot_id, bookable_clause(now))
        .values(status=SlotStatus.BOOKED.value)
        .execution_options(synchronize_session=False),
    )
    return result.rowcount == 1


def mark_free(session: Session, slot_id: int) -> None:
    session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(status=SlotStatus.FREE.value)
        .execution_options(synchronize_session=False)
    )


def get_booking(session: Session, principal: Principal, booking_id: int) -> Booking | None:
    return session.scalars(
        select(Booking)
        .options(joinedload(Booking.slot).options(*_slot_with_place()))
        .where(Booking.id == booking_id, visible(Booking, principal))
    ).one_or_none()


def live_bookings_of_slots(session: Session, slot_ids: list[int]) -> dict[int, Booking]:
    """slot id → its booking (not cancelled), for slots the caller was already allowed to see."""
    if not slot_ids:
        return {}
    bookings = session.scalars(
        select(Booking).where(Booking.slot_id.in_(slot_ids), Booking.status != BookingStatus.CANCELLED.value)
    )
    return {booking.slot_id: booking for booking in bookings}


def booking_messages(session: Session, booking_id: int) -> list[OutboxMessage]:
    """The messages a booking caused (confirmation, SAS push…), oldest first."""
    return list(
        session.scalars(select(OutboxMessage).where(OutboxMessage.booking_id == booking_id).order_by(OutboxMessage.id))
    )


def live_bookings_by_slot(session: Session, slot_ids: list[int]) -> dict[int, int]:
    if not slot_ids:
        return {}
    rows = session.execute(
        select(Booking.slot_id, Booking.id).where(
            Booking.slot_id.in_(slot_ids), Booking.status != BookingStatus.CANCELLED.value
        )
    )
    return {slot_id: booking_id for slot_id, booking_id in rows}


def get_pattern(session: Session, principal: Principal, pattern_id: int) -> SlotPattern | None:
    return session.scalars(
        select(SlotPattern).where(SlotPattern.id == pattern_id, visible(SlotPattern, principal))
    ).one_or_none()


def list_patterns(session: Session, principal: Principal) -> list[SlotPattern]:
    return list(
        session.scalars(
            select(SlotPattern)
            .where(visible(SlotPattern, principal), SlotPattern.active.is_(True))
            .order_by(SlotPattern.id)
        )
    )


def get_centre(session: Session, principal: Principal, centre_id: int) -> Centre | None:
    return session.scalars(select(Centre).where(Centre.id == centre_id, visible(Centre, principal))).one_or_none()


def list_centres(session: Session, principal: Principal) -> list[Centre]:
    return list(session.scalars(select(Centre).where(visible(Centre, principal)).order_by(Centre.id)))


def doctor_location(session: Session, doctor: Doctor, location_id: int | None) -> PracticeLocation | None:
    query = select(PracticeLocation).where(PracticeLocation.doctor_id == doctor.id).order_by(PracticeLocation.id)
    if location_id is not None:
        query = query.where(PracticeLocation.id == location_id)
    return session.scalars(query.limit(1)).first()


def territory_slugs(session: Session, territory_ids: Iterable[int]) -> dict[int, str]:
    ids = set(territory_ids)
    if not ids:
        return {}
    return dict(session.execute(select(Territory.id, Territory.slug).where(Territory.id.in_(ids))).all())


def indicators(session: Session, territory_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Slots offered, booked and used over a period (by slot start)."""
    offered = session.scalar(
        select(func.count())
        .select_from(Slot)
        .where(Slot.territory_id == territory_id, Slot.start_at >= start, Slot.start_at < end)
    )
    rows = session.execute(
        select(Booking.status, Booking.origin, func.count())
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.territory_id == territory_id, Slot.start_at >= start, Slot.start_at < end)
        .group_by(Booking.status, Booking.origin)
    ).all()
    by_status: dict[str, int] = {}
    by_sas = 0
    for status, origin, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        if origin == "sas" and status != BookingStatus.CANCELLED.value:
            by_sas += count
    live = sum(n for s, n in by_status.items() if s != BookingStatus.CANCELLED.value)
    return {
        "slots_offered": offered or 0,
        "slots_booked": live,
        "slots_used": by_status.get(BookingStatus.FULFILLED.value, 0),
        "noshows": by_status.get(BookingStatus.NOSHOW.value, 0),
        "cancelled_bookings": by_status.get(BookingStatus.CANCELLED.value, 0),
        "booked_by_sas": by_sas,
    }


def _walk_ins(session: Session, principal: Principal, territory_id: int, start: datetime, end: datetime):
    return session.execute(
        select(WalkIn.centre_id, WalkIn.doctor_id, WalkIn.age_band, WalkIn.has_doctor, func.count())
        .where(
            visible(WalkIn, principal),
            WalkIn.territory_id == territory_id,
            WalkIn.seen_at >= start,
            WalkIn.seen_at < end,
        )
        .group_by(WalkIn.centre_id, WalkIn.doctor_id, WalkIn.age_band, WalkIn.has_doctor)
    ).all()


def _live_bookings(session: Session, principal: Principal, territory_id: int, start: datetime, end: datetime):
    return session.execute(
        select(Slot.centre_id, Slot.doctor_id, Booking.status, Booking.age_band, Booking.has_doctor, func.count())
        .join(Slot, Slot.id == Booking.slot_id)
        .where(
            visible(Booking, principal),
            Booking.territory_id == territory_id,
            Slot.start_at >= start,
            Slot.start_at < end,
            Booking.status != BookingStatus.CANCELLED.value,
        )
        .group_by(Slot.centre_id, Slot.doctor_id, Booking.status, Booking.age_band, Booking.has_doctor)
    ).all()


ACTIVITY_CELL = ("booked", "came", "noshow", "walk_in", "passages")


def activity_report(
    session: Session, principal: Principal, territory_id: int, start: datetime, end: datetime
) -> dict[str, dict[str, dict[str, int]]]:
    """FICHE 6's activity report over a period (bookings by slot start, walk-ins by when they
    were seen): the live bookings, the patients who came ("venu"), the unexcused absences, the
    passages without a booking, and the passages (came + walk-ins), by age band and by whether
    the patient has a médecin traitant, as asked ("unknown": not asked)."""
    empty = dict.fromkeys(ACTIVITY_CELL, 0)
    report: dict[str, dict[str, dict[str, int]]] = {
        "age_band": {band: dict(empty) for band in (*AGE_BANDS, "unknown")},
        "has_doctor": {answer: dict(empty) for answer in HAS_DOCTOR},
    }

    def add(band: str | None, has_doctor: str | None, column: str, count: int) -> None:
        for split, value in (("age_band", band or "unknown"), ("has_doctor", has_doctor or "unknown")):
            cell = report[split].setdefault(value, dict(empty))
            cell[column] += count
            if column in ("came", "walk_in"):
                cell["passages"] += count

    for _centre, _doctor, status, band, has_doctor, count in _live_bookings(
        session, principal, territory_id, start, end
    ):
        add(band, has_doctor, "booked", count)
        if status == BookingStatus.FULFILLED.value:
            add(band, has_doctor, "came", count)
        elif status == BookingStatus.NOSHOW.value:
            add(band, has_doctor, "noshow", count)
    for _centre, _doctor, band, has_doctor, count in _walk_ins(session, principal, territory_id, start, end):
        add(band, has_doctor, "walk_in", count)
    return report


@dataclass(frozen=True)
class OwnerReport:
    """FICHE 6's report of one centre or one doctor: `counts` by REPORT_COLUMNS. The age bands
    and the médecin traitant count the passages (patients seen: came on a booking, or walked in)."""

    kind: str  # centre | doctor
    owner_id: int
    name: str
    counts: dict[str, int]


def csnp_report(
    session: Session, principal: Principal, territory_id: int, start: datetime, end: datetime
) -> list[OwnerReport]:
    """Per centre, then per doctor (by name), of the CPTS over the period: bookings, came,
    walk-ins, passages, unexcused absences, and the passages by age band and médecin traitant.
    Owners without any activity in the period are left out."""
    counts: dict[tuple[str, int], dict[str, int]] = {}

    def cell(centre_id: int | None, doctor_id: int | None) -> dict[str, int]:
        key = ("centre", centre_id) if centre_id is not None else ("doctor", doctor_id or 0)
        return counts.setdefault(key, dict.fromkeys(REPORT_COLUMNS, 0))

    def passage(row: dict[str, int], band: str | None, has_doctor: str | None, n: int) -> None:
        row["passages"] += n
        row[f"age_{band if band in AGE_BANDS else 'unknown'}"] += n
        row[f"doctor_{has_doctor if has_doctor in HAS_DOCTOR else 'unknown'}"] += n

    for centre_id, doctor_id, status, band, has_doctor, n in _live_bookings(
        session, principal, territory_id, start, end
    ):
        row = cell(centre_id, doctor_id)
        row["booked"] += n
        if status == BookingStatus.FULFILLED.value:
            row["came"] += n
            passage(row, band, has_doctor, n)
        elif status == BookingStatus.NOSHOW.value:
            row["noshow"] += n
    for centre_id, doctor_id, band, has_doctor, n in _walk_ins(session, principal, territory_id, start, end):
        row = cell(centre_id, doctor_id)
        row["walk_in"] += n
        passage(row, band, has_doctor, n)
    centre_ids = [i for kind, i in counts if kind == "centre"]
    doctor_ids = [i for kind, i in counts if kind == "doctor"]
    centre_names = dict(
        session.execute(
            select(Centre.id, Centre.name).where(Centre.id.in_(centre_ids), visible(Centre, principal))
        ).all()
    )
    doctor_names = {
        i: (family, given, profession)
        for i, family, given, profession in session.execute(
            select(Doctor.id, Doctor.family_name, Doctor.given_name, Doctor.profession).where(
                Doctor.id.in_(doctor_ids), visible(Doctor, principal)
            )
        )
    }
    reports = [
        OwnerReport("centre", i, centre_names.get(i, f"Centre n° {i}"), counts[("centre", i)])
        for i in sorted(centre_ids, key=lambda i: (centre_names.get(i, "").lower(), i))
    ]
    reports += [
        OwnerReport(
            "doctor",
            i,
            display_name(doctor_names[i][2], doctor_names[i][1], doctor_names[i][0])
            if i in doctor_names
            else f"Praticien n° {i}",
            counts[("doctor", i)],
        )
        for i in sorted(doctor_ids, key=lambda i: (*(n.lower() for n in doctor_names.get(i, ("", ""))[:2]), i))
    ]
    return reports


@dataclass(frozen=True)
class SasSlotRow:
    """A slot with everything the SAS feed shows about it, read in one query."""

    slot_id: int
    start_at: datetime
    end_at: datetime
    kind: str
    visibility: int
    appointment_type: str
    doctor_id: int
    rpps: str
    family_name: str
    given_name: str
    specialty: str
    doctor_phone: str | None
    location_id: int | None  # None: a centre's slot worked by the doctor (centre_id)
    address: str
    postcode: str
    city: str
    location_phone: str | None
    territory_id: int
    territory_name: str
    finess: str
    territory_phone: str
    centre_id: int | None

    @property
    def place_id(self) -> str:
        """Where the doctor sees the patient: its practice ("12"), or the centre ("c3")."""
        return f"c{self.centre_id}" if self.location_id is None else str(self.location_id)


# The doctor a SAS slot is served under: the slot's own, or the one named to work a centre's slot.
_SAS_DOCTOR = func.coalesce(Slot.doctor_id, Slot.worked_by_doctor_id)

_SAS_COLUMNS = (
    Slot.id,
    Slot.start_at,
    Slot.end_at,
    Slot.kind,
    Slot.visibility,
    Slot.appointment_type,
    Doctor.id,
    Doctor.rpps,
    Doctor.family_name,
    Doctor.given_name,
    Doctor.specialty,
    Doctor.phone,
    PracticeLocation.id,
    func.coalesce(PracticeLocation.address, Centre.address),
    func.coalesce(PracticeLocation.postcode, Centre.postcode),
    func.coalesce(PracticeLocation.city, Centre.city),
    func.coalesce(PracticeLocation.phone, Centre.phone),
    Territory.id,
    Territory.name,
    Territory.finess,
    Territory.phone,
    Slot.centre_id,
)


def _sas_query():
    """A doctor's slot at its practice, or a centre's slot worked by a named doctor (served
    under that doctor, at the centre); a centre's slot naming nobody is not served."""
    return (
        select(*_SAS_COLUMNS)
        .join(Doctor, Doctor.id == _SAS_DOCTOR)
        .outerjoin(PracticeLocation, PracticeLocation.id == Slot.location_id)
        .outerjoin(Centre, Centre.id == Slot.centre_id)
        .join(Territory, Territory.id == Slot.territory_id)
        .where(
            sas_visible_clause(),
            Doctor.active.is_(True),
            sas_practitioner_clause(),
            or_(PracticeLocation.id.is_not(None), Centre.id.is_not(None)),
        )
    )


_sas_search: dict[str, object] = {}


def _sas_search_statement(dialect: str):
    # Built once with bound parameters: the SAS's search is the hottest query of the service.
    # PostgreSQL takes the RPPS list as one array parameter (= ANY): nothing to expand per call.
    if dialect not in _sas_search:
        if dialect == "postgresql":
            wanted = Doctor.rpps == any_(bindparam("rpps", type_=ARRAY(String)))
        else:
            wanted = Doctor.rpps.in_(bindparam("rpps", expanding=True))
        doctors = select(Doctor.id).where(wanted).scalar_subquery()
        _sas_search[dialect] = (
            _sas_query()
            .where(
                or_(Slot.doctor_id.in_(doctors), Slot.worked_by_doctor_id.in_(doctors)),
                Slot.status == SlotStatus.FREE.value,
                Slot.start_at >= bindparam("start", type_=Slot.start_at.type),
                Slot.start_at <= bindparam("end", type_=Slot.start_at.type),
            )
            .order_by(Slot.start_at, Slot.id)
        )
    return _sas_search[dialect]


def sas_free_slots(connection: Connection, rpps: list[str], start: datetime, end: datetime) -> list[SasSlotRow]:
    """The free slots the SAS may see of these doctors, starting in [start, end]. Core on a
    bare connection: no ORM work per row."""
    statement = _sas_search_statement(connection.dialect.name)
    rows = connection.execute(statement, {"rpps": rpps, "start": start, "end": end})
    return [SasSlotRow(*row) for row in rows]


_sas_versions: dict[str, object] = {}
_sas_fragments: dict[str, object] = {}


def _doctors_wanted(dialect: str, parameter: str, column):
    if dialect == "postgresql":
        return column == any_(bindparam(parameter, type_=ARRAY(column.type)))
    return column.in_(bindparam(parameter, expanding=True))


def sas_feed_versions(connection: Connection, rpps: list[str]) -> list[tuple[int, int]]:
    """(doctor id, feed version) of the active doctors (profession 10) with these RPPS: the feed's cheap check
    that the fragments it holds are still what the database says (app.fhir.feed)."""
    dialect = connection.dialect.name
    if dialect not in _sas_versions:
        _sas_versions[dialect] = select(Doctor.id, Doctor.sas_feed_version).where(
            _doctors_wanted(dialect, "rpps", Doctor.rpps), Doctor.active.is_(True), sas_practitioner_clause()
        )
    return [(row[0], row[1]) for row in connection.execute(_sas_versions[dialect], {"rpps": rpps})]  # type: ignore[call-overload]


def sas_fragment_rows(
    connection: Connection, doctor_ids: list[int], start: datetime, end: datetime
) -> list[tuple[int, SasSlotRow]]:
    """The free SAS-visible slots of these doctors starting in [start, end], each with its
    doctor's feed version read in the same statement (so the same snapshot as the slot)."""
    dialect = connection.dialect.name
    if dialect not in _sas_fragments:
        _sas_fragments[dialect] = (
            _sas_query()
            .add_columns(Doctor.sas_feed_version)
            .where(
                # The doctor's own slots and the centres' slots it works (as sas_free_slots).
                or_(
                    _doctors_wanted(dialect, "ids", Slot.doctor_id),
                    _doctors_wanted(dialect, "worked_by", Slot.worked_by_doctor_id),
                ),
                Slot.status == SlotStatus.FREE.value,
                Slot.start_at >= bindparam("start", type_=Slot.start_at.type),
                Slot.start_at <= bindparam("end", type_=Slot.start_at.type),
            )
        )
    parameters = {"ids": doctor_ids, "worked_by": doctor_ids, "start": start, "end": end}
    rows = connection.execute(_sas_fragments[dialect], parameters)  # type: ignore[call-overload]
    return [(row[-1], SasSlotRow(*row[:-1])) for row in rows]


def sas_free_slot(session: Session, slot_id: int) -> SasSlotRow | None:
    row = session.execute(_sas_query().where(Slot.id == slot_id, Slot.status == SlotStatus.FREE.value)).first()
    return SasSlotRow(*row) if row else None


def sas_schedule(session: Session, doctor_id: int, location_id: int) -> SasSlotRow | None:
    """Any SAS-visible slot of this doctor at this practice: what a Schedule is made of."""
    row = session.execute(
        _sas_query().where(Slot.doctor_id == doctor_id, Slot.location_id == location_id).limit(1)
    ).first()
    return SasSlotRow(*row) if row else None


def sas_centre_schedule(session: Session, doctor_id: int, centre_id: int) -> SasSlotRow | None:
    """Any SAS-visible slot of this centre worked by this doctor: its Schedule and PractitionerRole."""
    row = session.execute(
        _sas_query().where(Slot.worked_by_doctor_id == doctor_id, Slot.centre_id == centre_id).limit(1)
    ).first()
    return SasSlotRow(*row) if row else None

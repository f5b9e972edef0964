"""Queries on doctors, always through the caller's scope (app.accounts.access)."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.accounts.access import scoped
from app.accounts.principal import Principal
from app.core.database import execute_dml, utcnow
from app.doctors.models import STALE_AFTER, Doctor, PracticeLocation
from app.doctors.professions import DOCTOR
from app.territories.models import Territory


@dataclass(frozen=True)
class DoctorFilters:
    cpts: str | None = None
    commune: str | None = None
    accepting: bool | None = None
    stale: bool | None = None
    active: bool | None = True
    q: str | None = None
    profession: str | None = None


def get_visible(session: Session, principal: Principal, doctor_id: int) -> Doctor | None:
    return session.scalars(scoped(Doctor, principal).where(Doctor.id == doctor_id)).one_or_none()


def get_unscoped(session: Session, doctor_id: int) -> Doctor | None:
    """A doctor whatever the caller: only for who proves its right another way (a signed
    link naming the doctor, the SAS platform reading the national directory's data)."""
    return session.get(Doctor, doctor_id)


def by_rpps_unscoped(session: Session, rpps: str) -> Doctor | None:
    """The doctor with this RPPS whatever the caller: for a Pro Santé Connect sign-in, where
    the national provider vouched for the person's RPPS (app/accounts/service.py psc_account)."""
    return session.scalars(select(Doctor).where(Doctor.rpps == rpps)).one_or_none()


def location_of(session: Session, doctor_id: int, location_id: int) -> PracticeLocation | None:
    """One of this doctor's practices (None when the practice is another doctor's)."""
    location = session.get(PracticeLocation, location_id)
    return location if location is not None and location.doctor_id == doctor_id else None


def names(session: Session, principal: Principal, doctor_ids: set[int]) -> dict[int, tuple[str, str]]:
    """id → (given name, family name) of the doctors among these the caller may see."""
    if not doctor_ids:
        return {}
    rows = session.execute(
        scoped(Doctor, principal)
        .with_only_columns(Doctor.id, Doctor.given_name, Doctor.family_name)
        .where(Doctor.id.in_(doctor_ids))
    ).all()
    return {doctor_id: (given, family) for doctor_id, given, family in rows}


@dataclass(frozen=True)
class DoctorName:
    id: int
    given_name: str
    family_name: str
    profession: str  # "Dr" or not, before the name (app.doctors.professions.display_name)


def active_names(
    session: Session, principal: Principal, territory_id: int | None, limit: int = 1000
) -> list[DoctorName]:
    """The active doctors the caller may see (of one CPTS if given), by name: names only."""
    query = (
        scoped(Doctor, principal)
        .with_only_columns(Doctor.id, Doctor.given_name, Doctor.family_name, Doctor.profession)
        .where(Doctor.active.is_(True))
        .order_by(Doctor.family_name, Doctor.given_name)
    )
    if territory_id is not None:
        query = query.where(Doctor.territory_id == territory_id)
    return [DoctorName(*row) for row in session.execute(query.limit(limit))]


def doctors_only() -> ColumnElement[bool]:
    """A médecin (profession 10): the only practitioners who take patients as médecin traitant,
    are ranked, offered requests, and counted as the directory's volunteers."""
    return Doctor.profession == DOCTOR


def accepting_clause(today: date):
    """A doctor that can take one more patient as médecin traitant today (a médecin only)."""
    return and_(
        doctors_only(),
        Doctor.active.is_(True),
        Doctor.accepting_new_patients.is_(True),
        Doctor.capacity_remaining > 0,
        or_(Doctor.available_until.is_(None), Doctor.available_until >= today),
    )


def _filtered(principal: Principal, filters: DoctorFilters) -> Select:
    query = scoped(Doctor, principal)
    if filters.cpts:
        query = query.where(Doctor.territory.has(Territory.slug == filters.cpts))
    if filters.commune:
        query = query.where(Doctor.locations.any(PracticeLocation.insee_code == filters.commune.upper()))
    if filters.accepting is not None:
        clause = accepting_clause(utcnow().date())
        query = query.where(clause if filters.accepting else ~clause)
    if filters.stale is not None:
        limit = utcnow() - STALE_AFTER
        query = query.where(Doctor.confirmed_at < limit if filters.stale else Doctor.confirmed_at >= limit)
    if filters.active is not None:
        query = query.where(Doctor.active.is_(filters.active))
    if filters.profession is not None:
        query = query.where(Doctor.profession == filters.profession)
    if filters.q and filters.q.strip():
        needle = f"%{filters.q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Doctor.family_name).like(needle),
                func.lower(Doctor.given_name).like(needle),
                func.lower(Doctor.email).like(needle),
                Doctor.rpps.like(needle),
            )
        )
    return query


def list_page(
    session: Session, principal: Principal, filters: DoctorFilters, page: int, per_page: int
) -> tuple[list[Doctor], int]:
    query = _filtered(principal, filters)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(
        query.order_by(Doctor.family_name, Doctor.given_name, Doctor.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def take_place(session: Session, doctor_id: int) -> bool:
    """One place fewer, atomically: the condition and the decrement are one UPDATE, so
    concurrent matches can never take more places than there are (nor go below zero)."""
    result = execute_dml(
        session,
        update(Doctor)
        .where(Doctor.id == doctor_id, accepting_clause(utcnow().date()))
        .values(capacity_remaining=Doctor.capacity_remaining - 1, updated_at=utcnow())
        .execution_options(synchronize_session=False),
    )
    return result.rowcount == 1


def give_back_place(session: Session, doctor_id: int) -> None:
    session.execute(
        update(Doctor)
        .where(Doctor.id == doctor_id)
        .values(capacity_remaining=Doctor.capacity_remaining + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


@dataclass
class PracticeCard:
    id: int
    address: str
    city: str
    phone: str | None
    latitude: float | None
    longitude: float | None


@dataclass
class DoctorCard:
    """What ranking needs of a doctor, read without the ORM: a CPTS has a few hundred doctors
    and building full objects for each was most of a suggestion's time."""

    id: int
    given_name: str
    family_name: str
    phone: str | None
    active: bool
    accepting_new_patients: bool
    capacity_remaining: int
    available_until: date | None
    priority_only: bool
    home_visits: bool
    home_visit_radius_km: int | None
    languages: list[str]
    max_distance_km: int | None
    confirmed_at: datetime
    locations: list[PracticeCard] = field(default_factory=list)

    def is_stale(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) - self.confirmed_at > STALE_AFTER


# Read by position into DoctorCard and PracticeCard, whose fields follow the same order.
_CARD_COLUMNS: list[InstrumentedAttribute[Any]] = [
    Doctor.id,
    Doctor.given_name,
    Doctor.family_name,
    Doctor.phone,
    Doctor.active,
    Doctor.accepting_new_patients,
    Doctor.capacity_remaining,
    Doctor.available_until,
    Doctor.priority_only,
    Doctor.home_visits,
    Doctor.home_visit_radius_km,
    Doctor.languages,
    Doctor.max_distance_km,
    Doctor.confirmed_at,
]
_PRACTICE_COLUMNS: list[InstrumentedAttribute[Any]] = [
    PracticeLocation.id,
    PracticeLocation.address,
    PracticeLocation.city,
    PracticeLocation.phone,
    PracticeLocation.latitude,
    PracticeLocation.longitude,
]


def cards_of_doctors_with_places(session: Session, territory_id: int) -> list[DoctorCard]:
    """The CPTS's doctors who can take a patient today, with their practices, in one query."""
    # Executed on the connection: plain rows, without the ORM's loading machinery.
    rows = (
        session.connection()
        .execute(
            select(*_CARD_COLUMNS, *_PRACTICE_COLUMNS)
            .join(PracticeLocation, PracticeLocation.doctor_id == Doctor.id)
            .where(Doctor.territory_id == territory_id, accepting_clause(utcnow().date()))
            .order_by(Doctor.id, PracticeLocation.id)
        )
        .all()
    )
    cards: dict[int, DoctorCard] = {}
    width = len(_CARD_COLUMNS)
    for row in rows:
        card = cards.get(row[0])
        if card is None:
            card = cards[row[0]] = DoctorCard(*row[:width])
        card.locations.append(PracticeCard(*row[width:]))
    return list(cards.values())

"""Queries on patient requests, always through the caller's scope."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, String, and_, bindparam, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from app.accounts.access import scoped, visible
from app.accounts.models import User
from app.accounts.principal import Principal
from app.requests.models import (
    OPEN_STATUSES,
    DoctorOffer,
    OfferStatus,
    PatientRequest,
    RequestEvent,
    SatisfactionSurvey,
    Source,
)
from app.requests.priority import day_in_paris, score_expression
from app.territories.models import Territory, TerritoryCommune

OPEN_VALUES = tuple(s.value for s in OPEN_STATUSES)

# The intake's one read (the busiest read of the service): the CPTS serving a commune (or its
# city, for an arrondissement) and, in each, the open request of the same person, and the
# open requests of the same phone and birth date. Two outer joins rather than one on an OR:
# each uses its index (the partial unique one, the birth date and phone one) where the OR
# made PostgreSQL scan the CPTS's requests. Built once, the values as parameters, the open
# statuses written out as in the partial unique index's predicate.
_OPEN: list[ColumnElement[str]] = [literal_column(f"'{value}'", String) for value in OPEN_VALUES]
_same_person = aliased(PatientRequest, name="same_person")
_same_phone = aliased(PatientRequest, name="same_phone")
_SERVING_AND_OPEN = (
    select(
        TerritoryCommune.insee_code,
        Territory,
        _same_person.id,
        _same_phone.id,
        _same_phone.duplicate_of_id,
    )
    .join(Territory, TerritoryCommune.territory_id == Territory.id)
    .outerjoin(
        _same_person,
        and_(
            _same_person.territory_id == Territory.id,
            _same_person.identity_key == bindparam("key"),
            _same_person.status.in_(_OPEN),
        ),
    )
    .outerjoin(
        _same_phone,
        and_(
            _same_phone.territory_id == Territory.id,
            _same_phone.birth_date == bindparam("birth_date"),
            _same_phone.phone == bindparam("phone"),
            _same_phone.status.in_(_OPEN),
        ),
    )
    .where(TerritoryCommune.insee_code.in_([bindparam("insee"), bindparam("parent")]))
    .order_by(_same_phone.id)
)


@dataclass(frozen=True)
class OpenRequests:
    """In a CPTS: the open request of the same person (the partial unique index allows one),
    and the open requests of the same phone and birth date, oldest first, as (id,
    duplicate_of_id)."""

    same_person: int | None
    same_phone: list[tuple[int, int | None]]


def serving_and_open_requests(
    session: Session, insee_code: str, parent_insee: str | None, key: str, birth_date: date, phone: str
) -> tuple[dict[str, Territory], dict[int, OpenRequests]]:
    """(INSEE code → the CPTS serving it, for the commune and its city; CPTS id → the open
    requests there with this identity key, or with this birth date and phone), in one query.
    Public: the intake's, no caller."""
    parameters = {
        "insee": insee_code,
        "parent": parent_insee or "",
        "key": key,
        "birth_date": birth_date,
        "phone": phone,
    }
    serving: dict[str, Territory] = {}
    open_requests: dict[int, OpenRequests] = {}
    for code, territory, same_person, phone_id, duplicate_of_id in session.execute(_SERVING_AND_OPEN, parameters):
        serving[code] = territory
        found = open_requests.setdefault(territory.id, OpenRequests(same_person, []))
        if phone_id is not None and (phone_id, duplicate_of_id) not in found.same_phone:
            found.same_phone.append((phone_id, duplicate_of_id))
    return serving, open_requests


@dataclass(frozen=True)
class QueueFilters:
    cpts: str | None = None
    statuses: tuple[str, ...] = tuple(s.value for s in OPEN_STATUSES)
    source: str | None = None
    commune: str | None = None
    q: str | None = None
    # The coordination's queue folds a possible duplicate into its original's row; a
    # professional's list of its own submissions shows them all.
    fold_possible_duplicates: bool = True
    # Received before this instant: waiting too long (app.requests.service.waiting_alert).
    received_before: datetime | None = None


def queue_page(
    session: Session,
    principal: Principal,
    filters: QueueFilters,
    page: int,
    per_page: int,
    today: date | None = None,
) -> tuple[list[PatientRequest], int]:
    """The most urgent first: priority score on `today` (by default the Paris date; weights of the
    request's CPTS), then waiting time."""
    query = scoped(PatientRequest, principal).outerjoin(Territory, PatientRequest.territory_id == Territory.id)
    if filters.cpts:
        query = query.where(Territory.slug == filters.cpts)
    if filters.statuses:
        query = query.where(PatientRequest.status.in_(filters.statuses))
    # A possible duplicate is shown on the open request it may duplicate, not as a row of its own.
    if filters.fold_possible_duplicates:
        original = aliased(PatientRequest)
        query = query.where(
            ~exists().where(
                original.id == PatientRequest.duplicate_of_id,
                PatientRequest.status.in_(OPEN_VALUES),
                original.status.in_(OPEN_VALUES),
            )
        )
    if filters.received_before is not None:
        query = query.where(PatientRequest.created_at < filters.received_before)
    if filters.source:
        query = query.where(PatientRequest.source.has(Source.tag == filters.source))
    if filters.commune:
        query = query.where(PatientRequest.insee_code == filters.commune.upper())
    if filters.q and filters.q.strip():
        needle = f"%{filters.q.strip().lower()}%"
        query = query.where(
            or_(func.lower(PatientRequest.family_name).like(needle), func.lower(PatientRequest.given_name).like(needle))
        )
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(
        query.order_by(
            func.coalesce(score_expression(today or day_in_paris()), 0).desc(),
            PatientRequest.created_at,
            PatientRequest.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def flagged_as_duplicated(session: Session, principal: Principal, request_ids: list[int]) -> set[int]:
    """Which of these requests have an open possible duplicate waiting for the coordinator."""
    if not request_ids:
        return set()
    return set(
        session.scalars(
            scoped(PatientRequest, principal)
            .with_only_columns(PatientRequest.duplicate_of_id)
            .where(PatientRequest.duplicate_of_id.in_(request_ids), PatientRequest.status.in_(OPEN_VALUES))
        )
    )


def source_by_tag(session: Session, tag: str) -> Source | None:
    """A flyer's source, by the tag of its QR code: public (the questionnaire names it)."""
    return session.scalars(select(Source).where(Source.tag == tag)).one_or_none()


def organisation_of(session: Session, user_id: int) -> Source | None:
    """The source standing for a professional's organisation (pharmacy, practice…), if any."""
    return session.scalars(
        select(Source).join(User, User.organisation_id == Source.id).where(User.id == user_id)
    ).one_or_none()


def by_follow_up_token(session: Session, token_hash: str) -> PatientRequest | None:
    """The receipt's link, or the one of the latest follow-up message (app/requests/outcomes.py)."""
    return session.scalars(
        select(PatientRequest).where(
            or_(PatientRequest.follow_up_token_hash == token_hash, PatientRequest.answer_link_hash == token_hash)
        )
    ).first()


def matched_at() -> ColumnElement:
    """When a request was first matched (its first status change to "matched")."""
    return (
        select(func.min(RequestEvent.at))
        .where(RequestEvent.request_id == PatientRequest.id, RequestEvent.to_status == "matched")
        .scalar_subquery()
    )


def due_for_confirmation(session: Session, matched_before: datetime, limit: int) -> list[int]:
    """Matched before `matched_before`, still matched, not erased, not asked yet (app/requests/
    outcomes.py): the first appointment and the declaration to confirm. Batch job: every CPTS."""
    return list(
        session.scalars(
            select(PatientRequest.id)
            .where(
                PatientRequest.status == "matched",
                PatientRequest.confirmation_asked_at.is_(None),
                PatientRequest.erased_at.is_(None),
                PatientRequest.territory_id.is_not(None),
                matched_at() < matched_before,
            )
            .order_by(PatientRequest.id)
            .limit(limit)
        )
    )


def helped_without_survey(session: Session, start: datetime, end: datetime, year: int, limit: int) -> list[int]:
    """Matched between `start` and `end`, not erased, without that year's questionnaire yet."""
    surveyed = exists().where(SatisfactionSurvey.request_id == PatientRequest.id, SatisfactionSurvey.year == year)
    first_matched = matched_at()
    return list(
        session.scalars(
            select(PatientRequest.id)
            .where(
                PatientRequest.erased_at.is_(None),
                PatientRequest.territory_id.is_not(None),
                first_matched >= start,
                first_matched < end,
                ~surveyed,
            )
            .order_by(PatientRequest.id)
            .limit(limit)
        )
    )


def survey_of(session: Session, request_id: int, year: int) -> SatisfactionSurvey | None:
    """The questionnaire sent to this request that year, while still unanswered."""
    return session.scalars(
        select(SatisfactionSurvey).where(
            SatisfactionSurvey.request_id == request_id,
            SatisfactionSurvey.year == year,
            SatisfactionSurvey.answered.is_(False),
        )
    ).first()


# ---- Offers to doctors (app/requests/offers.py) ----------------------------------------------


def offers_of_request(session: Session, principal: Principal, request_id: int) -> list[DoctorOffer]:
    return list(
        session.scalars(
            select(DoctorOffer)
            .where(visible(DoctorOffer, principal), DoctorOffer.request_id == request_id)
            .order_by(DoctorOffer.id)
        )
    )


def pending_offers_of_doctor(
    session: Session, principal: Principal, doctor_id: int, now: datetime
) -> list[DoctorOffer]:
    return list(
        session.scalars(
            select(DoctorOffer)
            .where(
                visible(DoctorOffer, principal),
                DoctorOffer.doctor_id == doctor_id,
                DoctorOffer.status == OfferStatus.PENDING.value,
                DoctorOffer.expires_at > now,
            )
            .order_by(DoctorOffer.id)
        )
    )


def offer_load(session: Session, principal: Principal, territory_id: int, since: datetime) -> dict[int, int]:
    """Per doctor: offers pending, or accepted since `since`."""
    rows = session.execute(
        select(DoctorOffer.doctor_id, func.count())
        .where(
            visible(DoctorOffer, principal),
            DoctorOffer.territory_id == territory_id,
            (DoctorOffer.status == OfferStatus.PENDING.value)
            | ((DoctorOffer.status == OfferStatus.ACCEPTED.value) & (DoctorOffer.answered_at >= since)),
        )
        .group_by(DoctorOffer.doctor_id)
    ).all()
    return {doctor_id: count for doctor_id, count in rows}


def offer_unscoped(session: Session, offer_id: int) -> DoctorOffer | None:
    """An offer whatever the caller: only for who proves its right another way (its offer link)."""
    return session.get(DoctorOffer, offer_id)


def offer_by_link_hash(session: Session, link_hash: str) -> DoctorOffer | None:
    """The offer whose short link hashes so, whatever the caller: the link is the doctor's proof."""
    return session.scalars(select(DoctorOffer).where(DoctorOffer.link_hash == link_hash)).one_or_none()


def other_pending_offers(session: Session, request_id: int, except_id: int | None) -> list[DoctorOffer]:
    """The pending offers of a request the caller just settled (accepted, matched, closed)."""
    return list(
        session.scalars(
            select(DoctorOffer).where(
                DoctorOffer.request_id == request_id,
                DoctorOffer.id != (except_id or 0),
                DoctorOffer.status == OfferStatus.PENDING.value,
            )
        )
    )


def lapsed_offers(session: Session, now: datetime) -> list[DoctorOffer]:
    """Every CPTS's pending offers past their delay (the worker's step)."""
    return list(
        session.scalars(
            select(DoctorOffer).where(DoctorOffer.status == OfferStatus.PENDING.value, DoctorOffer.expires_at <= now)
        )
    )


def offers_to_remind(session: Session, made_before: datetime, now: datetime) -> list[DoctorOffer]:
    """Every CPTS's pending offers made before `made_before`, still open, not reminded yet."""
    return list(
        session.scalars(
            select(DoctorOffer)
            .where(
                DoctorOffer.status == OfferStatus.PENDING.value,
                DoctorOffer.reminded_at.is_(None),
                DoctorOffer.created_at <= made_before,
                DoctorOffer.expires_at > now,
            )
            .order_by(DoctorOffer.id)
        )
    )


def handed_back(session: Session, principal: Principal, request_ids: list[int]) -> set[int]:
    """Which of these requests the automatic mode handed back to the coordination (no doctor
    left) and wait for it: still open, with no offer pending."""
    if not request_ids:
        return set()
    pending = select(DoctorOffer.request_id).where(DoctorOffer.status == OfferStatus.PENDING.value)
    return set(
        session.scalars(
            scoped(PatientRequest, principal)
            .with_only_columns(PatientRequest.id)
            .where(
                PatientRequest.id.in_(request_ids),
                PatientRequest.no_doctor_left_at.is_not(None),
                PatientRequest.status.in_(OPEN_VALUES),
                PatientRequest.id.not_in(pending),
            )
        )
    )


def automatic_territories(session: Session) -> list[Territory]:
    return list(session.scalars(select(Territory).where(Territory.auto_offers_since.is_not(None))))


def waiting_for_an_offer(session: Session, principal: Principal, territory: Territory) -> list[PatientRequest]:
    """Open requests of an automatic CPTS, received since the mode is on, not a possible
    duplicate, not handed back to the coordination (no doctor left), with no offer pending or
    accepted."""
    busy = select(DoctorOffer.request_id).where(
        DoctorOffer.status.in_([OfferStatus.PENDING.value, OfferStatus.ACCEPTED.value])
    )
    query = select(PatientRequest).where(
        visible(PatientRequest, principal),
        PatientRequest.territory_id == territory.id,
        PatientRequest.status.in_(OPEN_VALUES),
        PatientRequest.duplicate_of_id.is_(None),
        PatientRequest.no_doctor_left_at.is_(None),
        PatientRequest.id.not_in(busy),
    )
    if territory.auto_offers_since is not None:
        query = query.where(PatientRequest.created_at >= territory.auto_offers_since)
    return list(session.scalars(query.order_by(PatientRequest.created_at)))


def request_unscoped(session: Session, request_id: int) -> PatientRequest | None:
    """A request whatever the caller: only for who proves its right another way (the accepted
    offer's signed link)."""
    return session.get(PatientRequest, request_id)

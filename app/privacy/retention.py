"""Retention: personal data is kept no longer than the patients were told.

`run(session, settings, now, dry_run)` applies every rule below in batches and returns how
many rows each rule erased (or, with dry_run, would erase). It is idempotent: what was
erased is marked (`erased_at`, an empty body) and never selected again. The worker runs it
daily (app/notifications/outbox.py), `orientation retention run [--dry-run]` on demand. Each
run leaves one audit event with its counts, and one log line with the same counts: ids and
figures only, never a row's content.

Erasure blanks the personal columns and keeps the anonymous facts the indicators count: what
that means is app/privacy/erasure.py's, shared with the right to erasure (app/privacy/rights.py).

This is a batch job owning its session: it commits after each batch, so that a run over a
large backlog holds no lock for long, and a run interrupted halfway resumes where it stopped.
"""

import calendar
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken, Membership, User, WebSession
from app.audit.models import AuditEvent
from app.core.database import execute_dml, utcnow
from app.core.settings import Settings
from app.geocoding.models import GeocodeCacheEntry
from app.notifications.models import MessageStatus, OutboxMessage
from app.privacy.erasure import erase_booking, erase_request
from app.requests.models import PatientRequest, RequestEvent, RequestStatus
from app.snp.models import Booking, RegulatorIdentifier, Slot

logger = logging.getLogger(__name__)

# Closed for these reasons, a request is "abandoned": the shorter period applies.
ABANDONED_REASONS = ("unreachable", "withdrew")
ERASED_ACCOUNT_NAME = "Compte effacé"


@dataclass
class RetentionCounts:
    """Rows erased (or, in a dry run, to erase) by each rule of one run."""

    requests_closed: int = 0
    requests_abandoned: int = 0
    snp_bookings: int = 0
    outbox_messages: int = 0
    geocode_entries: int = 0
    audit_events: int = 0
    accounts_deactivated: int = 0
    accounts_erased: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def months_before(moment: datetime, months: int) -> datetime:
    """The same time `months` calendar months earlier (31 March − 1 month = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _closed_at() -> ColumnElement:
    """When the request reached its final status (its latest status change), else its last update."""
    latest = (
        select(func.max(RequestEvent.at))
        .where(RequestEvent.request_id == PatientRequest.id, RequestEvent.kind == "status")
        .scalar_subquery()
    )
    return func.coalesce(latest, PatientRequest.updated_at)


def _last_event_at() -> ColumnElement:
    latest = select(func.max(RequestEvent.at)).where(RequestEvent.request_id == PatientRequest.id).scalar_subquery()
    return func.coalesce(latest, PatientRequest.updated_at)


def _closed_requests_due(settings: Settings, now: datetime) -> ColumnElement[bool]:
    return and_(
        PatientRequest.erased_at.is_(None),
        PatientRequest.status.in_([RequestStatus.CLOSED.value, RequestStatus.MATCHED.value]),
        or_(PatientRequest.close_reason.is_(None), PatientRequest.close_reason.not_in(ABANDONED_REASONS)),
        _closed_at() < months_before(now, settings.retention_closed_request_months),
    )


def _abandoned_requests_due(settings: Settings, now: datetime) -> ColumnElement[bool]:
    return and_(
        PatientRequest.erased_at.is_(None),
        or_(
            PatientRequest.status == RequestStatus.OUT_OF_TERRITORY.value,
            and_(
                PatientRequest.status == RequestStatus.CLOSED.value,
                PatientRequest.close_reason.in_(ABANDONED_REASONS),
            ),
        ),
        _last_event_at() < months_before(now, settings.retention_abandoned_request_months),
    )


def _batches(session: Session, query, size: int):
    """Yields batches of the rows still due, committing each before the next: an erased row
    no longer matches, so the same query gives the next batch."""
    while True:
        rows = session.scalars(query.limit(size)).all()
        if not rows:
            return
        yield rows
        session.commit()


def _count(session: Session, model, condition: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(model).where(condition)) or 0


def _erase_requests(session: Session, condition: ColumnElement[bool], now: datetime, size: int, dry_run: bool) -> int:
    if dry_run:
        return _count(session, PatientRequest, condition)
    erased = 0
    query = select(PatientRequest).where(condition).order_by(PatientRequest.id)
    for batch in _batches(session, query, size):
        for request in batch:
            erase_request(session, request, now)
        erased += len(batch)
    return erased


def _erase_bookings(session: Session, settings: Settings, now: datetime, dry_run: bool) -> int:
    slot_ended = select(Slot.id).where(
        Slot.id == Booking.slot_id, Slot.start_at < months_before(now, settings.retention_snp_booking_months)
    )
    condition = and_(Booking.erased_at.is_(None), slot_ended.exists())
    if dry_run:
        return _count(session, Booking, condition)
    erased = 0
    query = select(Booking).where(condition).order_by(Booking.id)
    for batch in _batches(session, query, settings.retention_batch_size):
        for booking in batch:
            erase_booking(session, booking, now)
        erased += len(batch)
    return erased


def _erase_messages(session: Session, settings: Settings, now: datetime, dry_run: bool) -> int:
    # Given up within hours of being written (OUTBOX_MAX_ATTEMPTS, backoff an hour at most):
    # the date written stands for "done" when a message was never sent.
    done_before = func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at) < now - timedelta(
        days=settings.retention_outbox_days
    )
    condition = and_(
        OutboxMessage.status.in_([MessageStatus.SENT.value, MessageStatus.FAILED.value]),
        done_before,
        or_(OutboxMessage.body != "", OutboxMessage.recipient != ""),
    )
    if dry_run:
        return _count(session, OutboxMessage, condition)
    erased = 0
    while True:
        ids = session.scalars(
            select(OutboxMessage.id).where(condition).order_by(OutboxMessage.id).limit(settings.retention_batch_size)
        ).all()
        if not ids:
            return erased
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(recipient="", subject=None, body="")
        )
        session.commit()
        erased += len(ids)


def _drop_expired_geocoding(session: Session, settings: Settings, now: datetime, dry_run: bool) -> int:
    """Answers past GEOCODE_CACHE_DAYS are never used again: dropped."""
    condition = GeocodeCacheEntry.created_at < now - timedelta(days=settings.geocode_cache_days)
    if dry_run:
        return _count(session, GeocodeCacheEntry, condition)
    dropped = execute_dml(session, delete(GeocodeCacheEntry).where(condition)).rowcount
    session.commit()
    return dropped or 0


def _drop_old_audit(session: Session, settings: Settings, now: datetime, dry_run: bool) -> int:
    older_than = months_before(now, settings.retention_audit_months)
    condition = AuditEvent.at < older_than
    if dry_run:
        return _count(session, AuditEvent, condition)
    if session.get_bind().dialect.name == "postgresql":
        # The trail is append-only there (trigger); this function alone may drop its old rows.
        dropped = session.scalar(text("SELECT purge_audit_events(:older_than)"), {"older_than": older_than})
    else:
        dropped = execute_dml(session, delete(AuditEvent).where(condition)).rowcount
    session.commit()
    return dropped or 0


def _deactivate_inactive_accounts(session: Session, settings: Settings, now: datetime, dry_run: bool) -> int:
    since = months_before(now, settings.retention_account_inactive_months)
    acted_since = select(AuditEvent.id).where(AuditEvent.actor_user_id == User.id, AuditEvent.at >= since)
    condition = and_(
        User.active.is_(True),
        User.erased_at.is_(None),
        func.coalesce(User.last_active_at, User.created_at) < since,
        ~acted_since.exists(),
    )
    if dry_run:
        return _count(session, User, condition)
    ids = session.scalars(select(User.id).where(condition)).all()
    if ids:
        session.execute(update(User).where(User.id.in_(ids)).values(active=False, deactivated_at=now))
        session.execute(delete(WebSession).where(WebSession.user_id.in_(ids)))
        session.commit()
    return len(ids)


def _erase_deactivated_accounts(session: Session, settings: Settings, now: datetime, dry_run: bool) -> int:
    condition = and_(
        User.active.is_(False),
        User.erased_at.is_(None),
        User.deactivated_at < months_before(now, settings.retention_account_erase_months),
    )
    if dry_run:
        return _count(session, User, condition)
    ids = session.scalars(select(User.id).where(condition)).all()
    for user_id in ids:
        # The row stays (the trail and the requests' history point at it), emptied.
        session.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                email=f"compte-efface-{user_id}@orientation.invalid",
                display_name=ERASED_ACCOUNT_NAME,
                family_name=None,
                given_names=None,
                password_hash=None,
                doctor_id=None,
                erased_at=now,
            )
        )
    if ids:
        for model in (WebSession, ApiToken, Membership, RegulatorIdentifier):
            session.execute(delete(model).where(model.user_id.in_(ids)))
        session.commit()
    return len(ids)


def run(session: Session, settings: Settings, now: datetime | None = None, dry_run: bool = False) -> RetentionCounts:
    """Applies every retention rule at `now` (the clock, injected); returns the counts."""
    now = now or utcnow()
    size = settings.retention_batch_size
    counts = RetentionCounts(
        requests_closed=_erase_requests(session, _closed_requests_due(settings, now), now, size, dry_run),
        requests_abandoned=_erase_requests(session, _abandoned_requests_due(settings, now), now, size, dry_run),
        snp_bookings=_erase_bookings(session, settings, now, dry_run),
        outbox_messages=_erase_messages(session, settings, now, dry_run),
        geocode_entries=_drop_expired_geocoding(session, settings, now, dry_run),
        audit_events=_drop_old_audit(session, settings, now, dry_run),
        accounts_deactivated=_deactivate_inactive_accounts(session, settings, now, dry_run),
        accounts_erased=_erase_deactivated_accounts(session, settings, now, dry_run),
    )
    logger.info("retention_run", extra={"dry_run": dry_run, **counts.as_dict()})
    if not dry_run:
        # One event per run, after the purge of old events: the run's own trace stays.
        session.add(
            AuditEvent(
                at=now,
                actor="retention",
                actor_role="system",
                territory_id=None,
                action="retention.run",
                object_type="retention",
                object_id=now.date().isoformat(),
                details=counts.as_dict(),
            )
        )
        session.commit()
    return counts

"""Writing to the outbox, and the worker that empties it with retries and backoff."""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased, sessionmaker

from app.core.database import execute_dml, utcnow
from app.core.logging import error_fields
from app.core.settings import Settings
from app.notifications.models import Delivery, MessageStatus, OutboxMessage, WorkerHeartbeat
from app.notifications.senders import DeliveryError, Outgoing, ProviderReceipt, Sender, build_senders

logger = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
RETENTION_EVERY = timedelta(days=1)  # the retention of personal data (retain_if_due)
DIGEST_CHECK_EVERY = timedelta(hours=1)  # whether a weekly digest is due (digest_if_due)
OFFERS_EVERY = timedelta(minutes=5)  # lapsed offers, and the automatic offers (offers_if_due)
OUTCOMES_CHECK_EVERY = timedelta(hours=1)  # confirmations and questionnaires due (outcomes_if_due)
RECEIPTS_CHECK_EVERY = timedelta(minutes=10)  # SMS whose receipt never came (receipts_if_due)
HEARTBEAT_EVERY = timedelta(seconds=15)  # the worker's row in worker_heartbeats (/metrics)
HEARTBEAT_FORGOTTEN_AFTER = timedelta(days=1)  # a dead worker's row is dropped after this


def enqueue(
    session: Session,
    *,
    kind: str,
    channel: str,
    recipient: str,
    body: str,
    subject: str | None = None,
    territory_id: int | None = None,
    request_id: int | None = None,
    doctor_id: int | None = None,
    booking_id: int | None = None,
    after: OutboxMessage | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Adds a message to the caller's transaction (nothing is sent before it commits).
    With `after`, it waits until that message is sent or given up. `now`: the worker's clock,
    for what a worker's job writes (due then, not at the machine's time)."""
    if after is not None and after.id is None:
        session.flush()
    message = OutboxMessage(
        **_message(kind, channel, recipient, body, subject, territory_id, request_id, doctor_id, booking_id, now),
        after_id=after.id if after is not None else None,
    )
    session.add(message)
    return message


_INSERT_MESSAGE = insert(OutboxMessage.__table__)


def enqueue_now(
    session: Session,
    *,
    kind: str,
    channel: str,
    recipient: str,
    body: str,
    subject: str | None = None,
    territory_id: int | None = None,
    request_id: int | None = None,
) -> None:
    """The same message as `enqueue`, written at once by a plain INSERT rather than at the
    next flush: for the busiest writes (the intake's receipt), where the ORM's unit of work
    costs more than the message itself. Still in the caller's transaction."""
    values = _message(kind, channel, recipient, body, subject, territory_id, request_id, None, None)
    session.execute(_INSERT_MESSAGE, values)


def _message(
    kind: str,
    channel: str,
    recipient: str,
    body: str,
    subject: str | None,
    territory_id: int | None,
    request_id: int | None,
    doctor_id: int | None,
    booking_id: int | None,
    now: datetime | None = None,
) -> dict[str, object]:
    """A new message's columns: pending, due at once (at `now`, a worker's clock, when given),
    under a key of its own."""
    return {
        "key": uuid.uuid4().hex,
        "kind": kind,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "territory_id": territory_id,
        "request_id": request_id,
        "doctor_id": doctor_id,
        "booking_id": booking_id,
        "next_attempt_at": now or utcnow(),
    }


_earlier = aliased(OutboxMessage)
# A message whose predecessor is still to be sent waits for it.
_waiting_for_earlier = exists().where(
    _earlier.id == OutboxMessage.after_id,
    _earlier.status.in_([MessageStatus.PENDING.value, MessageStatus.SENDING.value]),
)


def _is_due(now: datetime) -> ColumnElement[bool]:
    """Pending and its time has come, or left "sending" by a worker whose lease ran out."""
    return or_(
        (OutboxMessage.status == MessageStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
        (OutboxMessage.status == MessageStatus.SENDING) & (OutboxMessage.lease_until < now),
    )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … up to an hour between attempts."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class OutboxWorker:
    """Delivers at least once, never knowingly twice: see README, "Delivery guarantee".

    Each message is claimed, sent and recorded on its own: the claim (a short transaction)
    leases it for LEASE; "sent" is recorded in a second short transaction called by the sender
    the moment the server or provider has accepted the message, before anything else (not
    even the SMTP QUIT). Only if that transaction fails, or the worker dies in between, does
    the message stay "sending": another worker sends it again after the lease, with the
    same key (Message-ID, SMS reference, appointment identifier)."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        senders: dict[str, Sender] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.senders = senders or build_senders(settings)
        self.clock = clock
        self._retention_due_at: datetime | None = None
        self._digest_check_at: datetime | None = None
        self._offers_due_at: datetime | None = None
        self._outcomes_check_at: datetime | None = None
        self._receipts_check_at: datetime | None = None
        self._heartbeat_at: datetime | None = None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"[:100]

    def _due(self, now: datetime, limit: int) -> list[int]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(_is_due(now), ~_waiting_for_earlier)
                    .order_by(OutboxMessage.next_attempt_at)
                    .limit(limit)
                )
            )

    def _claim_one(self, message_id: int, now: datetime) -> OutboxMessage | None:
        """Leases one message until now + LEASE, just before it is sent (not for a whole batch,
        whose last message could outlive its lease). Conditional: of two workers, only one takes it."""
        with self.sessions() as session:
            taken = execute_dml(
                session,
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, _is_due(now))
                .values(
                    status=MessageStatus.SENDING.value, lease_until=now + LEASE, attempts=OutboxMessage.attempts + 1
                ),
            ).rowcount
            session.commit()
            if not taken:
                return None
            message = session.get(OutboxMessage, message_id)
            if message is not None:
                session.expunge(message)
            return message

    def _claim(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Takes due messages for LEASE; one left 'sending' by a crashed worker is due again."""
        claimed = (self._claim_one(message_id, now) for message_id in self._due(now, limit))
        return [message for message in claimed if message is not None]

    def _record(self, message: OutboxMessage, values: Mapping[str, object]) -> bool:
        """One short transaction, only while the message is still ours (same attempt): a worker
        whose lease ran out does not overwrite what the next one recorded."""
        try:
            with self.sessions() as session:
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message.id,
                        OutboxMessage.status == MessageStatus.SENDING.value,
                        OutboxMessage.attempts == message.attempts,
                    )
                    .values(**values)
                )
                session.commit()
        except SQLAlchemyError as exc:
            # Left "sending": sent again after the lease, with the same key.
            logger.error("outbox_record_failed", extra={"message_id": message.id, **error_fields(exc)})
            return False
        return True

    def _deliver(self, message: OutboxMessage, clock: Callable[[], datetime]) -> bool:
        """Sends one claimed message; True when it was accepted and recorded as sent."""
        outgoing = Outgoing(message.key, message.channel, message.recipient, message.subject, message.body)
        recorded: list[bool] = []

        def accepted(receipt: ProviderReceipt | None = None) -> None:
            # Called by the sender as soon as the server has taken the message: nothing between.
            values: dict[str, object] = {
                "status": MessageStatus.SENT.value,
                "sent_at": clock(),
                "lease_until": None,
                "last_error": None,
            }
            if receipt is not None:  # an SMS a provider took: its delivery receipt will name this id
                values |= {
                    "provider": receipt.provider,
                    "provider_message_id": receipt.message_id[:64],
                    "delivery": Delivery.AWAITING.value,
                }
            recorded.append(self._record(message, values))

        try:
            sender = self.senders.get(message.channel)
            if sender is None:  # e.g. the SAS URL was unset after the message was written
                raise DeliveryError(f"no {message.channel} sender configured")
            sender.send(outgoing, accepted)
        except DeliveryError as exc:
            gave_up = exc.permanent or message.attempts >= self.settings.outbox_max_attempts
            logger.warning(
                "outbox_delivery_failed", extra={"message_id": message.id, "reason": exc.reason, "gave_up": gave_up}
            )
            wait = max(backoff(message.attempts), exc.retry_after or timedelta(0))  # a 429's Retry-After
            values = {
                "status": (MessageStatus.FAILED if gave_up else MessageStatus.PENDING).value,
                "last_error": exc.reason,
                "lease_until": None,
                "next_attempt_at": clock() + wait,
            }
            self._record(message, values)
            return False
        return recorded == [True]

    def run_once(self, now: datetime | None = None, limit: int = 50) -> int:
        """Sends what is due (at `now`, or the worker's clock); returns how many were sent."""
        clock = self.clock if now is None else (lambda: now)
        sent = 0
        for message_id in self._due(clock(), limit):
            message = self._claim_one(message_id, clock())
            if message is not None and self._deliver(message, clock):
                sent += 1
        return sent

    def retain_if_due(self) -> bool:
        """Runs the retention of personal data (app/privacy/retention.py) once a day: at the
        worker's start, then a day after each run. True when it ran."""
        from app.privacy import retention

        now = self.clock()
        if self._retention_due_at is not None and now < self._retention_due_at:
            return False
        self._retention_due_at = now + RETENTION_EVERY
        with self.sessions() as session:
            retention.run(session, self.settings, now)
        return True

    def digest_if_due(self) -> int:
        """Sends the last week's digest to the CPTS that have not had it (app/notifications/
        digest.py records each, so a restart or another worker sends nothing twice); looked at
        at the worker's start, then hourly. How many CPTS got theirs."""
        from app.notifications import digest

        now = self.clock()
        if not self.settings.weekly_digest or (self._digest_check_at is not None and now < self._digest_check_at):
            return 0
        self._digest_check_at = now + DIGEST_CHECK_EVERY
        with self.sessions() as session:
            return digest.run(session, self.settings, now)

    def offers_if_due(self) -> int:
        """Reminds the doctors who have not answered an offer (OFFER_REMINDER_AFTER_HOURS), closes
        the offers left unanswered past their delay and, in the CPTS in automatic mode, offers
        each waiting request to its next doctor, or hands it back to the coordination when no
        doctor is left (app/requests/offers.py: idempotent, a second worker does nothing twice);
        at the worker's start, then every OFFERS_EVERY. How many offers were made."""
        from app.requests import offers

        now = self.clock()
        if self._offers_due_at is not None and now < self._offers_due_at:
            return 0
        self._offers_due_at = now + OFFERS_EVERY
        with self.sessions() as session:
            offers.remind_unanswered(session, self.settings, now)
            return offers.run_automatic(session, self.settings, now)

    def outcomes_if_due(self) -> int:
        """Asks the patients matched FOLLOW_UP_CONFIRMATION_DAYS ago whether the first appointment
        took place, and sends the year's satisfaction questionnaires from SATISFACTION_DATE
        (app/requests/outcomes.py records each, so nothing goes twice); looked at at the worker's
        start, then hourly. How many messages were written."""
        from app.requests import outcomes

        now = self.clock()
        if self._outcomes_check_at is not None and now < self._outcomes_check_at:
            return 0
        self._outcomes_check_at = now + OUTCOMES_CHECK_EVERY
        with self.sessions() as session:
            counts = outcomes.run(session, self.settings, now)
        return counts.confirmations_asked + counts.surveys_sent

    def receipts_if_due(self) -> int:
        """Marks "unknown" the SMS a provider took SMS_RECEIPT_HOURS ago and no delivery receipt
        followed (app/notifications/delivery.py): never "delivered" by default. At the worker's
        start, then every RECEIPTS_CHECK_EVERY. How many were marked."""
        from app.notifications import delivery

        now = self.clock()
        if self._receipts_check_at is not None and now < self._receipts_check_at:
            return 0
        self._receipts_check_at = now + RECEIPTS_CHECK_EVERY
        with self.sessions() as session:
            marked = delivery.mark_unknown(session, now, timedelta(hours=self.settings.sms_receipt_hours))
            session.commit()
        return marked

    def heartbeat_if_due(self) -> bool:
        """Says in worker_heartbeats that this worker is alive (/metrics: orientation_workers_alive),
        at its start and then every HEARTBEAT_EVERY; drops the rows of workers gone for a day."""
        now = self.clock()
        if self._heartbeat_at is not None and now < self._heartbeat_at:
            return False
        first = self._heartbeat_at is None
        self._heartbeat_at = now + HEARTBEAT_EVERY
        with self.sessions() as session:
            seen = execute_dml(
                session,
                update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == self.worker_id).values(seen_at=now),
            ).rowcount
            if not seen:
                session.add(WorkerHeartbeat(worker_id=self.worker_id, started_at=now, seen_at=now))
            if first:
                forgotten = WorkerHeartbeat.seen_at < now - HEARTBEAT_FORGOTTEN_AFTER
                session.execute(delete(WorkerHeartbeat).where(forgotten))
            session.commit()
        return True

    def stopped(self) -> None:
        """A clean stop: this worker's heartbeat row goes (a dead worker's stays, and ages)."""
        with self.sessions() as session:
            session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == self.worker_id))
            session.commit()

    def run_forever(self, stop: threading.Event, interval: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.heartbeat_if_due()
            except Exception as exc:
                logger.error("worker_heartbeat_error", extra=error_fields(exc))
            try:
                self.run_once()
            except Exception as exc:
                logger.error("outbox_worker_error", extra=error_fields(exc))
            try:
                self.retain_if_due()
            except Exception as exc:
                logger.error("retention_error", extra=error_fields(exc))
            try:
                self.digest_if_due()
            except Exception as exc:
                logger.error("weekly_digest_error", extra=error_fields(exc))
            try:
                self.offers_if_due()
            except Exception as exc:
                logger.error("doctor_offers_error", extra=error_fields(exc))
            try:
                self.outcomes_if_due()
            except Exception as exc:
                logger.error("follow_up_outcomes_error", extra=error_fields(exc))
            try:
                self.receipts_if_due()
            except Exception as exc:
                logger.error("sms_receipts_error", extra=error_fields(exc))
            stop.wait(interval)
        try:
            self.stopped()
        except Exception as exc:
            logger.error("worker_heartbeat_error", extra=error_fields(exc))

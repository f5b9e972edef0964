"""Writing to the outbox, and the worker that empties it with retries and backoff."""

import logging
import threading
import uuid
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from app.core.database import execute_dml, utcnow
from app.core.settings import Settings
from app.notifications.models import MessageStatus, OutboxMessage
from app.notifications.senders import DeliveryError, Outgoing, Sender, build_senders

logger = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)


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
) -> OutboxMessage:
    """Adds a message to the caller's transaction (nothing is sent before it commits).
    With `after`, it waits until that message is sent or given up."""
    if after is not None and after.id is None:
        session.flush()
    message = OutboxMessage(
        key=uuid.uuid4().hex,
        kind=kind,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        territory_id=territory_id,
        request_id=request_id,
        doctor_id=doctor_id,
        booking_id=booking_id,
        next_attempt_at=utcnow(),
        after_id=after.id if after is not None else None,
    )
    session.add(message)
    return message


_earlier = aliased(OutboxMessage)
# A message whose predecessor is still to be sent waits for it.
_waiting_for_earlier = exists().where(
    _earlier.id == OutboxMessage.after_id,
    _earlier.status.in_([MessageStatus.PENDING.value, MessageStatus.SENDING.value]),
)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … up to an hour between attempts."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class OutboxWorker:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], senders: dict[str, Sender] | None = None
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.senders = senders or build_senders(settings)

    def _claim(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Takes due messages for LEASE; one left 'sending' by a crashed worker is due again."""
        claimed = []
        with self.sessions() as session:
            due = session.scalars(
                select(OutboxMessage.id)
                .where(
                    or_(
                        (OutboxMessage.status == MessageStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
                        (OutboxMessage.status == MessageStatus.SENDING) & (OutboxMessage.lease_until < now),
                    ),
                    ~_waiting_for_earlier,
                )
                .order_by(OutboxMessage.next_attempt_at)
                .limit(limit)
            ).all()
            for message_id in due:
                # Conditional: of two workers, only one takes a given message.
                taken = execute_dml(
                    session,
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message_id,
                        or_(
                            (OutboxMessage.status == MessageStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
                            (OutboxMessage.status == MessageStatus.SENDING) & (OutboxMessage.lease_until < now),
                        ),
                    )
                    .values(
                        status=MessageStatus.SENDING.value, lease_until=now + LEASE, attempts=OutboxMessage.attempts + 1
                    ),
                ).rowcount
                if taken:
                    claimed.append(message_id)
            session.commit()
            return list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(claimed))))

    def run_once(self, now: datetime | None = None, limit: int = 50) -> int:
        """Sends what is due; returns how many were sent."""
        now = now or utcnow()
        sent = 0
        for message in self._claim(now, limit):
            outgoing = Outgoing(message.key, message.channel, message.recipient, message.subject, message.body)
            values: dict[str, object]
            try:
                sender = self.senders.get(message.channel)
                if sender is None:  # e.g. the SAS URL was unset after the message was written
                    raise DeliveryError(f"no {message.channel} sender configured")
                sender.send(outgoing)
            except DeliveryError as exc:
                gave_up = exc.permanent or message.attempts >= self.settings.outbox_max_attempts
                values = {
                    "status": (MessageStatus.FAILED if gave_up else MessageStatus.PENDING).value,
                    "last_error": exc.reason,
                    "lease_until": None,
                    "next_attempt_at": utcnow() + backoff(message.attempts),
                }
                logger.warning(
                    "outbox_delivery_failed", extra={"message_id": message.id, "reason": exc.reason, "gave_up": gave_up}
                )
            else:
                values = {
                    "status": MessageStatus.SENT.value,
                    "sent_at": utcnow(),
                    "lease_until": None,
                    "last_error": None,
                }
                sent += 1
            with self.sessions() as session:
                session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))
                session.commit()
        return sent

    def run_forever(self, stop: threading.Event, interval: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as exc:
                logger.error("outbox_worker_error", extra={"error_type": type(exc).__name__})
            stop.wait(interval)

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime, utcnow


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a worker until lease_until
    SENT = "sent"
    FAILED = "failed"  # given up: permanent refusal, or too many attempts


class Delivery(StrEnum):
    """What became of an SMS a provider took (its delivery receipt): None for what has no
    receipts (an e-mail, the demo's file)."""

    AWAITING = "awaiting"  # taken by the provider, no receipt yet
    DELIVERED = "delivered"
    FAILED = "failed"  # the provider could not deliver it: delivery_reason says why
    UNKNOWN = "unknown"  # no receipt within SMS_RECEIPT_HOURS: never taken as delivered


class OutboxMessage(Base):
    """A message to send, written in the same transaction as what caused it: if the change
    is committed, the message will be sent; if not, it never existed."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_provider_message", "provider", "provider_message_id"),
        Index("ix_outbox_messages_delivery", "delivery"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable for the life of the message: the e-mail's Message-ID and the SMS provider's
    # reference, so that a retry after an unclear failure is recognised as the same message.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # doctor_list | outcome | doctor_reminder | …
    channel: Mapped[str] = mapped_column(String(10))  # email | sms
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.PENDING.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What went wrong, without personal data: an error class and a server's code.
    last_error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id", ondelete="SET NULL"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("patient_requests.id", ondelete="CASCADE"), index=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("snp_bookings.id", ondelete="CASCADE"), index=True)
    # Sent only once this earlier message is done (sent or given up): an appointment's
    # update must not reach the SAS before its creation.
    after_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # An SMS taken by a provider (app/notifications/sms_providers.py): which one, under which
    # id, and its delivery receipt (Delivery), the provider's reason, and when it came.
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    delivery: Mapped[str | None] = mapped_column(String(10))
    delivery_reason: Mapped[str | None] = mapped_column(String(200))
    delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WeeklyDigest(Base):
    """The weekly digest of one CPTS for one week (app/notifications/digest.py): written in the
    transaction that puts its e-mails in the outbox, unique per CPTS and week, so that two
    workers or a restart never send a week twice."""

    __tablename__ = "weekly_digests"
    __table_args__ = (UniqueConstraint("territory_id", "week_start", name="uq_weekly_digests_territory_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)  # the Monday (Paris) of the week counted
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkerHeartbeat(Base):
    """A running `orientation worker` (or `serve --with-worker`), as /metrics reports it: each
    worker writes its row at its start and then every HEARTBEAT_EVERY, and deletes it when it
    stops cleanly. A row left behind by a worker that died ages, and the metric shows it."""

    __tablename__ = "worker_heartbeats"

    # host:pid, nothing about anyone.
    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

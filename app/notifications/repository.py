"""The outbox's queries for delivery receipts. An SMS is found by its provider's id, never by
a caller's scope: the provider is the only one to post receipts, and proves it first
(app/notifications/webhooks.py)."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.database import execute_dml
from app.notifications.models import Delivery, OutboxMessage


def by_provider_id(session: Session, provider: str, message_id: str) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.provider == provider, OutboxMessage.provider_message_id == message_id[:64]
        )
    ).first()


def mark_unknown(session: Session, sent_before: datetime, now: datetime) -> int:
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.delivery == Delivery.AWAITING.value, OutboxMessage.sent_at < sent_before)
        .values(delivery=Delivery.UNKNOWN.value, delivery_at=now)
    )
    return execute_dml(session, statement).rowcount

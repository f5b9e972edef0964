from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """Who read or changed what, when, from where. Append-only (no code path updates or
    deletes it; PostgreSQL refuses it too), and never the personal data itself: the object
    is named by type and id."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Kept as text too: the user may be deleted, the trail must still say who it was.
    actor: Mapped[str] = mapped_column(String(254))
    actor_role: Mapped[str] = mapped_column(String(20))
    territory_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    client_address: Mapped[str | None] = mapped_column(String(45))
    # Figures about the event, never personal data: e.g. a retention run's counts.
    details: Mapped[dict[str, int] | None] = mapped_column(JSON)

"""Calls to the coordination's phone line (FICHE 1 and FICHE 6): who called, why, and how it
ended. Counted to size the line; nothing about the caller is kept (no number, no name)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime, utcnow

CALLERS = {"patient": "Patient", "relative": "Proche", "professional": "Professionnel"}
REASONS = {"doctor": "Médecin traitant", "unscheduled": "Soins non programmés", "other": "Autre"}
OUTCOMES = {"questionnaire": "Questionnaire rempli", "booked": "Créneau réservé", "redirected": "Réorienté"}


class PhoneCall(Base):
    __tablename__ = "phone_calls"
    __table_args__ = (Index("ix_phone_calls_territory_at", "territory_id", "called_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"))
    caller: Mapped[str] = mapped_column(String(12))  # CALLERS
    reason: Mapped[str] = mapped_column(String(12))  # REASONS
    outcome: Mapped[str] = mapped_column(String(13))  # OUTCOMES
    called_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    logged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

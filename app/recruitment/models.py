"""Recruiting volunteers among the territory's GPs: the invitations sent, and the sign-ups the
coordination approves (approval makes the volunteer ``Doctor``, app/doctors/service.py)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow
from app.territories.models import Territory


class InvitationChannel(StrEnum):
    EMAIL = "email"  # through the outbox
    LETTER = "letter"  # printed by the coordination, with a QR code to the sign-up page


class DoctorInvitation(Base):
    """The coordination asked a GP of the directory to volunteer."""

    __tablename__ = "doctor_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    rpps: Mapped[str] = mapped_column(String(11), index=True)
    # None once the directory no longer lists the GP (the invitation is kept, for the history).
    practitioner_id: Mapped[int | None] = mapped_column(
        ForeignKey("directory_practitioners.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(6))
    email: Mapped[str | None] = mapped_column(String(254))  # where the e-mail went (channel email)
    sent_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    territory: Mapped[Territory] = relationship(lazy="joined")


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class VolunteerApplication(Base):
    """A doctor's sign-up on the public page, waiting for the coordination's decision."""

    __tablename__ = "volunteer_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("doctor_invitations.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8), default=ApplicationStatus.PENDING.value, index=True)
    rpps: Mapped[str] = mapped_column(String(11), index=True)
    # False: the RPPS is valid but this CPTS's directory does not list it: the coordinator checks.
    in_directory: Mapped[bool] = mapped_column(Boolean)
    civility: Mapped[str] = mapped_column(String(3))
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(100))
    insee_code: Mapped[str] = mapped_column(String(5))
    # What the doctor offers, as app.doctors.schemas.Availability (JSON dump).
    availability: Mapped[dict[str, object]] = mapped_column(JSON)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

from datetime import date, datetime, timedelta

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow
from app.doctors.professions import DOCTOR, PROFESSIONS
from app.territories.models import Territory

# FICHE 1 refreshes its map of volunteer doctors every six months.
STALE_AFTER = timedelta(days=182)
PROFESSION_CODES = ", ".join(f"'{code}'" for code in PROFESSIONS)


class Doctor(Base):
    """A volunteer practitioner of a CPTS: a doctor, and what it offers as médecin traitant, or
    another health professional (`profession`) publishing unscheduled-care slots."""

    __tablename__ = "doctors"
    __table_args__ = (
        CheckConstraint("capacity_remaining >= 0", name="capacity_not_negative"),
        CheckConstraint(f"profession IN ({PROFESSION_CODES})", name="known_profession"),
        CheckConstraint(f"profession = '{DOCTOR}' OR specialty = ''", name="specialty_of_doctors"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    rpps: Mapped[str] = mapped_column(String(11), unique=True)
    civility: Mapped[str] = mapped_column(String(3))
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    # The RPPS "code profession" (app.doctors.professions): 10 médecin, 60 infirmier…
    profession: Mapped[str] = mapped_column(String(2), default=DOCTOR, server_default=DOCTOR)
    # TRE_R38, a doctor's only: empty for every other profession (the API says null).
    specialty: Mapped[str] = mapped_column(String(5), default="SM54")
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The coordination lets the doctor's first Pro Santé Connect sign-in create its account.
    psc_sign_in_allowed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    accepting_new_patients: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity_remaining: Mapped[int] = mapped_column(Integer, default=0)
    available_until: Mapped[date | None] = mapped_column(Date)
    priority_only: Mapped[bool] = mapped_column(Boolean, default=False)
    home_visits: Mapped[bool] = mapped_column(Boolean, default=False)
    home_visit_radius_km: Mapped[int | None] = mapped_column(Integer)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_distance_km: Mapped[int | None] = mapped_column(Integer)

    # Bumped by database triggers (migration 0024) in the transaction of any write that changes
    # what the SAS feed shows of this doctor: its slots, practices, name, territory (app.fhir.feed).
    sas_feed_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    territory: Mapped[Territory] = relationship(lazy="joined")
    locations: Mapped[list["PracticeLocation"]] = relationship(
        back_populates="doctor",
        cascade="all, delete-orphan",
        order_by="PracticeLocation.id",
        lazy="selectin",
    )

    def is_stale(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) - self.confirmed_at > STALE_AFTER


class PracticeLocation(Base):
    __tablename__ = "practice_locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(5))
    insee_code: Mapped[str] = mapped_column(String(5), index=True)
    city: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # housenumber | street | locality | municipality: how exact the point is.
    precision: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20))
    wheelchair_accessible: Mapped[bool] = mapped_column(Boolean, default=False)

    doctor: Mapped[Doctor] = relationship(back_populates="locations")

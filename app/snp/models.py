"""Unscheduled care (soins non programmés): slots offered by doctors or by a CPTS centre,
the recurring patterns that produce them, and the bookings made on them."""

from datetime import date, datetime, time
from enum import IntFlag, StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow
from app.doctors.models import Doctor, PracticeLocation


class SlotKind(StrEnum):
    """How the patient is seen (HL7 v3 ActCode, as the SAS reads it)."""

    SURGERY = "AMB"
    HOME_VISIT = "HH"
    TELECONSULTATION = "VR"


class Visibility(IntFlag):
    """Who may see a slot (TRE_R314-TypeCreneau); several at once."""

    PUBLIC = 1
    PRO = 2
    SNP = 4
    CPTS = 8


class AppointmentType(StrEnum):
    BOOKABLE = "ROUTINE"
    WALK_IN = "WALKIN"


class SlotStatus(StrEnum):
    FREE = "free"
    BOOKED = "booked"


# FICHE 6's age bands for unscheduled care, and whether the patient has a médecin traitant.
AGE_BANDS = {"0-17": "Moins de 18 ans", "18-69": "18 à 69 ans", "70+": "70 ans et plus"}
HAS_DOCTOR = {"yes": "Oui", "no": "Non", "unknown": "Ne sait pas"}
# The columns of FICHE 6's report per centre and per doctor (app.snp.repository.csnp_report).
REPORT_COLUMNS = (
    "booked",
    "came",
    "walk_in",
    "passages",
    "noshow",
    *(f"age_{band}" for band in (*AGE_BANDS, "unknown")),
    *(f"doctor_{answer}" for answer in HAS_DOCTOR),
)


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    FULFILLED = "fulfilled"
    NOSHOW = "noshow"


class Centre(Base):
    """A CPTS's own unscheduled-care centre (CSNP): the fallback of FICHE 6."""

    __tablename__ = "snp_centres"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(5))
    insee_code: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlotPattern(Base):
    """'Every Tuesday 16:00–20:00 in 20-minute slots for 8 weeks', in Paris wall-clock time."""

    __tablename__ = "snp_patterns"
    __table_args__ = (
        CheckConstraint("(doctor_id IS NULL) <> (centre_id IS NULL)", name="doctor_or_centre"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("practice_locations.id", ondelete="CASCADE"))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("snp_centres.id", ondelete="CASCADE"))
    # A centre's pattern: the doctor who works it (titular or replacement), if named.
    worked_by_doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="SET NULL"))
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # ISO: 1 = Monday … 7 = Sunday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    first_date: Mapped[date] = mapped_column(Date)
    last_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(3))
    visibility: Mapped[int] = mapped_column(Integer)
    appointment_type: Mapped[str] = mapped_column(String(7))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Slot(Base):
    __tablename__ = "snp_slots"
    __table_args__ = (
        CheckConstraint("(doctor_id IS NULL) <> (centre_id IS NULL)", name="doctor_or_centre"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint("worked_by_doctor_id IS NULL OR centre_id IS NOT NULL", name="worked_by_at_centre"),
        # Search for a patient: one CPTS's free slots in a window.
        Index("ix_snp_slots_territory_status_start", "territory_id", "status", "start_at"),
        # The SAS search: some doctors' slots in a window.
        Index("ix_snp_slots_doctor_start", "doctor_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("practice_locations.id", ondelete="CASCADE"))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("snp_centres.id", ondelete="CASCADE"), index=True)
    pattern_id: Mapped[int | None] = mapped_column(ForeignKey("snp_patterns.id", ondelete="SET NULL"), index=True)
    # A centre's slot: the doctor who works it (the centre's titular or a replacement, who need
    # not be a volunteer for patients without a médecin traitant); the SAS is served it under
    # that doctor (app/fhir/slots.py). None: the centre's, no doctor named.
    worked_by_doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="SET NULL"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(3))
    visibility: Mapped[int] = mapped_column(Integer)
    # Derived from visibility and the practitioner's profession (doctors only) by
    # app.snp.rules.served_to_sas, stored so the SAS search can filter on it.
    sas_visible: Mapped[bool] = mapped_column(Boolean)
    appointment_type: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(6), default=SlotStatus.FREE.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    doctor: Mapped[Doctor | None] = relationship(foreign_keys=[doctor_id])
    worked_by: Mapped[Doctor | None] = relationship(foreign_keys=[worked_by_doctor_id])
    location: Mapped[PracticeLocation | None] = relationship()
    centre: Mapped[Centre | None] = relationship()


class Booking(Base):
    """A patient booked on a slot. At most one live booking per slot (the partial unique
    index backs up the conditional update that books)."""

    __tablename__ = "snp_bookings"
    __table_args__ = (
        Index(
            "uq_snp_bookings_live_slot",
            "slot_id",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
        UniqueConstraint("sas_appointment_id", name="uq_snp_bookings_sas_appointment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("snp_slots.id", ondelete="CASCADE"), index=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=BookingStatus.BOOKED.value)
    # The minimum about the patient: who to expect, and how to reach them.
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(String(200))
    # FICHE 6's activity report, asked at booking; anonymous facts kept after erasure. None:
    # not asked (a booking made before, or through the SAS platform's FHIR API).
    age_band: Mapped[str | None] = mapped_column(String(5))  # 0-17 | 18-69 | 70+ (AGE_BANDS)
    has_doctor: Mapped[str | None] = mapped_column(String(7))  # yes | no | unknown: a médecin traitant
    origin: Mapped[str] = mapped_column(String(4))  # cpts | sas
    booked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Our identifier of the appointment towards the SAS platform (FrAppointmentSAS.identifier).
    sas_appointment_id: Mapped[str | None] = mapped_column(String(36))
    # Set when the patient's fields were erased (app/privacy/retention.py).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    slot: Mapped[Slot] = relationship()


class WalkIn(Base):
    """A passage without a booking (FICHE 6's report): a patient seen at a centre, or by a
    doctor, without an appointment. Only the report's anonymous facts: no name, no number."""

    __tablename__ = "snp_walk_ins"
    __table_args__ = (
        CheckConstraint("doctor_id IS NOT NULL OR centre_id IS NOT NULL", name="doctor_or_centre"),
        Index("ix_snp_walk_ins_territory_seen", "territory_id", "seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("snp_centres.id", ondelete="CASCADE"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    age_band: Mapped[str | None] = mapped_column(String(5))  # AGE_BANDS; None: not asked
    has_doctor: Mapped[str | None] = mapped_column(String(7))  # HAS_DOCTOR
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RegulatorIdentifier(Base):
    """A SAS regulator's identifiers (national IDNPS and/or the SAS technical one), as sent
    by the platform's INT_R02 interface; either finds the account."""

    __tablename__ = "regulator_identifiers"
    __table_args__ = (UniqueConstraint("system", "value", name="uq_regulator_identifiers_system_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(5))  # IDNPS | INTRN

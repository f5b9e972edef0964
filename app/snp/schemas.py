from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from app.core.identifiers import normalize_phone
from app.core.inputs import BoundedAwareDatetime, BoundedDate, DbId
from app.doctors.professions import label as profession_label
from app.snp.models import AppointmentType, SlotKind
from app.snp.rules import MAX_PATTERN_DAYS, visibility_codes

if TYPE_CHECKING:
    from app.notifications.models import OutboxMessage
    from app.snp.models import Booking, Centre, SlotPattern
    from app.snp.repository import SlotView

# The API's codes, spelled out for the OpenAPI document and type checkers; the enums of
# app.snp.models are the same codes (tests/test_snp_rules.py holds them equal).
Kind = Literal["AMB", "HH", "VR"]
VisibilityCode = Literal["PUBLIC", "PRO", "SNP", "CPTS"]
AppointmentTypeCode = Literal["ROUTINE", "WALKIN"]

# A pattern's times are Paris wall-clock times without an offset, read and served as "HH:MM".
# JSON Schema's `format: time` (RFC 3339) would promise an offset: declared as a pattern instead.
WallClockTime = Annotated[
    time,
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$",
            "description": "Heure de Paris (HH:MM), sans décalage ; servie HH:MM.",
        }
    ),
]


class SlotOffer(BaseModel):
    """Who offers the slot, where, and to whom: shared by single slots and patterns."""

    model_config = ConfigDict(extra="forbid")

    doctor_id: DbId | None = Field(default=None, description="A doctor's slot (or centre_id).")
    location_id: DbId | None = Field(default=None, description="The doctor's practice; its first one by default.")
    centre_id: DbId | None = Field(default=None, description="A slot of the CPTS's own centre (CSNP).")
    worked_by_doctor_id: DbId | None = Field(
        default=None,
        description="A centre's slot: the doctor of the CPTS who works it (titular or replacement); "
        "the SAS is served it under that doctor.",
    )
    kind: Kind = Field(default=SlotKind.SURGERY.value, description="AMB surgery, HH home visit, VR teleconsultation.")
    visibility: list[VisibilityCode] = Field(default=["SNP", "CPTS"], min_length=1, max_length=4)
    appointment_type: AppointmentTypeCode = Field(
        default=AppointmentType.BOOKABLE.value, description="ROUTINE bookable, WALKIN walk-in."
    )

    @model_validator(mode="after")
    def _doctor_or_centre(self) -> "SlotOffer":
        if (self.doctor_id is None) == (self.centre_id is None):
            raise ValueError("Indiquez soit un médecin (doctor_id), soit un centre (centre_id).")
        if self.centre_id is not None and self.location_id is not None:
            raise ValueError("Un créneau de centre n'a pas de lieu d'exercice de médecin.")
        if self.worked_by_doctor_id is not None and self.centre_id is None:
            raise ValueError("Seul un créneau de centre nomme le médecin qui l'assure (worked_by_doctor_id).")
        return self


class SlotCreate(SlotOffer):
    start: BoundedAwareDatetime = Field(examples=["2026-12-01T16:00:00+01:00"])
    end: BoundedAwareDatetime = Field(examples=["2026-12-01T16:20:00+01:00"])

    @model_validator(mode="after")
    def _order(self) -> "SlotCreate":
        if self.end <= self.start:
            raise ValueError("La fin du créneau doit suivre son début.")
        if self.end - self.start > timedelta(hours=12):
            raise ValueError("Un créneau dure au plus 12 heures.")
        return self


class PatternCreate(SlotOffer):
    """Paris wall-clock times, e.g. every Tuesday 16:00–20:00 in 20-minute slots for 8 weeks."""

    weekdays: list[int] = Field(min_length=1, max_length=7, examples=[[2]], description="ISO weekdays, 1 = Monday.")
    start_time: WallClockTime = Field(examples=["16:00"])
    end_time: WallClockTime = Field(examples=["20:00"])
    slot_minutes: int = Field(ge=5, le=240, examples=[20])
    first_date: BoundedDate
    weeks: int | None = Field(default=None, ge=1, le=52, description="How many weeks (or last_date).")
    last_date: BoundedDate | None = None

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in value):
            raise ValueError("Jours de la semaine : de 1 (lundi) à 7 (dimanche).")
        return sorted(set(value))

    @model_validator(mode="after")
    def _span(self) -> "PatternCreate":
        if self.end_time <= self.start_time:
            raise ValueError("L'heure de fin doit suivre l'heure de début.")
        if (self.weeks is None) == (self.last_date is None):
            raise ValueError("Indiquez soit un nombre de semaines (weeks), soit une date de fin (last_date).")
        if self.last_date is not None and self.last_date < self.first_date:
            raise ValueError("La date de fin doit suivre la date de début.")
        if self.last_date is not None and (self.last_date - self.first_date).days > MAX_PATTERN_DAYS:
            raise ValueError("Une récurrence couvre au plus un an.")
        return self


class SlotOut(BaseModel):
    """A slot, as the API and the workspace's pages show it (one presenter for both)."""

    id: int
    territory: str
    doctor_id: int | None
    doctor_name: str | None
    profession: str | None = Field(
        default=None, description="RPPS profession code of the practitioner (its own, or working a centre's slot)."
    )
    profession_label: str | None = None
    location_id: int | None
    centre_id: int | None
    centre_name: str | None = None
    worked_by_doctor_id: int | None = None
    worked_by_name: str | None = Field(default=None, description="A centre's slot: the doctor who works it.")
    place: str = Field(description="Address of the practice or centre.")
    pattern_id: int | None
    start: datetime
    end: datetime
    kind: Kind
    visibility: list[VisibilityCode]
    appointment_type: AppointmentTypeCode
    status: Literal["free", "booked"]
    booking_id: int | None = None

    @classmethod
    def from_view(cls, view: "SlotView", booking_id: int | None = None) -> "SlotOut":
        # Validated, not model_construct: pydantic-core validates these 17 fields in ~11 µs, while
        # model_construct (pure Python) takes ~21 µs; a board of 2,000 slots costs ~20 ms.
        return cls(
            id=view.id,
            territory=view.territory_slug,
            doctor_id=view.doctor_id,
            doctor_name=view.doctor_name,
            profession=view.profession,
            profession_label=profession_label(view.profession) if view.profession else None,
            location_id=view.location_id,
            centre_id=view.centre_id,
            centre_name=view.centre_name,
            worked_by_doctor_id=view.worked_by_doctor_id,
            worked_by_name=view.worked_by_name,
            place=view.place,
            pattern_id=view.pattern_id,
            start=view.start_at,
            end=view.end_at,
            kind=view.kind,
            visibility=visibility_codes(view.visibility),
            appointment_type=view.appointment_type,
            status=view.status,
            booking_id=booking_id,
        )

    @property
    def walk_in(self) -> bool:
        return self.appointment_type == AppointmentType.WALK_IN.value

    @property
    def owner(self) -> str:
        """Who offers it: the doctor, or the centre."""
        return self.doctor_name or self.centre_name or ""


class SlotList(BaseModel):
    items: list[SlotOut]


class PatternOut(BaseModel):
    id: int
    territory: str
    doctor_id: int | None
    location_id: int | None
    centre_id: int | None
    worked_by_doctor_id: int | None = None
    weekdays: list[int]
    start_time: WallClockTime
    end_time: WallClockTime
    slot_minutes: int
    first_date: date
    last_date: date
    kind: Kind
    visibility: list[VisibilityCode]
    appointment_type: AppointmentTypeCode
    active: bool
    slots_created: int = 0
    slots_removed: int = 0
    booked_slots_kept: int = 0

    @classmethod
    def from_row(
        cls, pattern: "SlotPattern", territory_slug: str, created: int = 0, removed: int = 0, kept: int = 0
    ) -> "PatternOut":
        return cls(
            id=pattern.id,
            territory=territory_slug,
            doctor_id=pattern.doctor_id,
            location_id=pattern.location_id,
            centre_id=pattern.centre_id,
            worked_by_doctor_id=pattern.worked_by_doctor_id,
            weekdays=pattern.weekdays,
            start_time=pattern.start_time,
            end_time=pattern.end_time,
            slot_minutes=pattern.slot_minutes,
            first_date=pattern.first_date,
            last_date=pattern.last_date,
            kind=pattern.kind,
            visibility=visibility_codes(pattern.visibility),
            appointment_type=pattern.appointment_type,
            active=pattern.active,
            slots_created=created,
            slots_removed=removed,
            booked_slots_kept=kept,
        )


class CentreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpts: str = Field(description="Slug of the CPTS.")
    name: str = Field(min_length=2, max_length=200)
    address: str = Field(min_length=3, max_length=200)
    postcode: str = Field(pattern=r"^\d{5}$")
    city: str = Field(min_length=1, max_length=100)
    phone: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None


class CentreOut(BaseModel):
    id: int
    territory: str
    name: str
    address: str
    postcode: str
    city: str
    phone: str | None

    @classmethod
    def from_row(cls, centre: "Centre", territory_slug: str) -> "CentreOut":
        return cls(
            id=centre.id,
            territory=territory_slug,
            name=centre.name,
            address=centre.address,
            postcode=centre.postcode,
            city=centre.city,
            phone=centre.phone,
        )


class SearchResult(BaseModel):
    slot: SlotOut
    distance_km: float | None = Field(description="Great-circle distance from the patient; None for teleconsultation.")


class SearchAnswer(BaseModel):
    window_start: datetime
    window_end: datetime
    doctors_examined: int
    slots_examined: int
    centre_fallback: bool = Field(
        default=False,
        description="No doctor's slot fits the window: the items are the centre's (the fallback).",
    )
    notice: str | None = Field(default=None, description="Said to the caller when the centre is the fallback.")
    items: list[SearchResult]


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    phone: str = Field(examples=["06 12 34 56 78"])
    email: EmailStr | None = None
    reason: str = Field(min_length=2, max_length=200, description="In a few words.")
    # FICHE 6's activity report (counted, kept after erasure): asked at booking.
    age_band: Literal["0-17", "18-69", "70+"] | None = Field(default=None, description="The patient's age band.")
    has_doctor: Literal["yes", "no", "unknown"] | None = Field(
        default=None, description="Whether the patient has a médecin traitant."
    )

    @field_validator("family_name", "given_name", "reason")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("Champ obligatoire.")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["fulfilled", "noshow"]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class BookingOut(BaseModel):
    id: int
    slot: SlotOut
    status: Literal["booked", "cancelled", "fulfilled", "noshow"]
    family_name: str
    given_name: str
    phone: str
    email: str | None
    reason: str
    origin: Literal["cpts", "sas"]
    sas_appointment_id: str | None
    created_at: datetime
    messages: list[MessageOut]

    @classmethod
    def from_row(cls, booking: "Booking", slot: SlotOut, messages: "list[OutboxMessage]") -> "BookingOut":
        return cls(
            id=booking.id,
            slot=slot,
            status=booking.status,
            family_name=booking.family_name,
            given_name=booking.given_name,
            phone=booking.phone,
            email=booking.email,
            reason=booking.reason,
            origin=booking.origin,
            sas_appointment_id=booking.sas_appointment_id,
            created_at=booking.created_at,
            messages=[MessageOut.model_validate(m) for m in messages],
        )


class SnpIndicators(BaseModel):
    slots_offered: int
    slots_booked: int
    slots_used: int
    noshows: int
    cancelled_bookings: int
    booked_by_sas: int

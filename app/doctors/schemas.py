from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator, model_validator

from app.core.identifiers import normalize_phone, validate_rpps
from app.core.inputs import BoundedDate
from app.doctors.professions import DOCTOR, profession_code, stored_specialty
from app.doctors.specialties import GENERAL_PRACTICE, SPECIALTIES

Civility = Literal["DR", "M", "MME"]


def _phone_or_none(value: str | None) -> str | None:
    return normalize_phone(value) if value not in (None, "") else None


def _profession_or_none(value: str | None) -> str | None:
    return profession_code(value) if value is not None else None


def _specialty_code(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    code = value.strip().upper()
    if code not in SPECIALTIES:
        raise ValueError("Spécialité inconnue : code TRE_R38 attendu (SM54 médecine générale).")
    return code


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=200, examples=["12 rue Saint-Aubert"])
    postcode: str = Field(pattern=r"^\d{5}$", examples=["62000"])
    city: str = Field(min_length=1, max_length=100, examples=["Arras"])
    phone: str | None = None
    wheelchair_accessible: bool = False

    _phone = field_validator("phone")(_phone_or_none)


class Availability(BaseModel):
    """What the doctor offers as médecin traitant. Confirming it renews `confirmed_at`."""

    model_config = ConfigDict(extra="forbid")

    accepting_new_patients: bool = False
    capacity_remaining: int = Field(default=0, ge=0, le=5000, description="How many more new patients.")
    available_until: BoundedDate | None = None
    priority_only: bool = Field(default=False, description="Only ALD, 70+ or CSS/AME patients.")
    home_visits: bool = False
    home_visit_radius_km: int | None = Field(default=None, ge=1, le=200)
    languages: list[str] = Field(default_factory=list, max_length=20, examples=[["fr", "en"]])
    max_distance_km: int | None = Field(default=None, ge=1, le=500)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        codes = [v.strip().lower() for v in value if v.strip()]
        if any(not (2 <= len(c) <= 3 and c.isalpha() and c.isascii()) for c in codes):
            raise ValueError("Langues : codes ISO 639 attendus (fr, en, ar…).")
        return sorted(set(codes))

    @model_validator(mode="after")
    def _radius_needs_home_visits(self) -> "Availability":
        if self.home_visit_radius_km is not None and not self.home_visits:
            raise ValueError("Un rayon de visites à domicile suppose d'en faire.")
        return self


class DoctorIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    civility: Civility = "DR"
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    profession: str = Field(
        default=DOCTOR,
        description="RPPS profession code: 10 Médecin, 21 Pharmacien, 40 Chirurgien-dentiste, 50 Sage-femme, "
        "60 Infirmier, 70 Masseur-kinésithérapeute.",
        examples=["10"],
    )
    specialty: str | None = Field(
        default=None,
        description="TRE_R38 code, a doctor's only (SM54 general practice when none is given); "
        "refused for any other profession.",
        validate_default=True,
    )
    email: EmailStr
    phone: str | None = None

    _phone = field_validator("phone")(_phone_or_none)
    _profession = field_validator("profession")(profession_code)

    @field_validator("specialty")
    @classmethod
    def _specialty_of_doctors(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A doctor's (SM54 by default); refused for another profession (checked before it)."""
        code = _specialty_code(value)
        profession = info.data.get("profession")
        return stored_specialty(profession, code, GENERAL_PRACTICE) if profession is not None else code


class DoctorCreate(DoctorIdentity):
    cpts: str = Field(description="Slug of the CPTS it volunteers in.", examples=["grand-arras"])
    rpps: str = Field(examples=["10000000008"])
    locations: list[LocationIn] = Field(min_length=1, max_length=10)
    availability: Availability = Field(default_factory=Availability)

    @field_validator("rpps")
    @classmethod
    def _rpps(cls, value: str) -> str:
        return validate_rpps(value)


class DoctorUpdate(BaseModel):
    """Every field optional: only what is sent changes."""

    model_config = ConfigDict(extra="forbid")

    civility: Civility | None = None
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    profession: str | None = Field(default=None, description="RPPS profession code (see DoctorCreate).")
    specialty: str | None = Field(default=None, description="TRE_R38 code, a doctor's only.")
    email: EmailStr | None = None
    phone: str | None = None
    locations: list[LocationIn] | None = Field(default=None, min_length=1, max_length=10)
    availability: Availability | None = None
    psc_sign_in_allowed: bool | None = Field(
        default=None,
        description="The coordination lets the doctor's first Pro Santé Connect sign-in create its account "
        "(coordinators only).",
    )

    _phone = field_validator("phone")(_phone_or_none)
    _profession = field_validator("profession")(_profession_or_none)
    _specialty = field_validator("specialty")(_specialty_code)


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    address: str
    postcode: str
    insee_code: str
    city: str
    latitude: float | None
    longitude: float | None
    precision: str | None
    phone: str | None
    wheelchair_accessible: bool


class DoctorOut(BaseModel):
    id: int
    cpts: str
    rpps: str
    civility: str
    family_name: str
    given_name: str
    profession: str = Field(description="RPPS profession code (10 Médecin…).")
    profession_label: str
    specialty: str | None = Field(description="TRE_R38 code; null for a profession other than médecin.")
    specialty_label: str | None
    email: str
    phone: str | None
    active: bool
    psc_sign_in_allowed: bool
    locations: list[LocationOut]
    availability: Availability
    confirmed_at: datetime
    stale: bool
    created_at: datetime
    updated_at: datetime


class DoctorPage(BaseModel):
    items: list[DoctorOut]
    total: int
    page: int
    per_page: int


class ConfirmationLinkOut(BaseModel):
    url: str
    expires_at: datetime


class ImportProblem(BaseModel):
    line: int
    rpps: str | None
    reason: str


class ImportReport(BaseModel):
    created: int
    updated: int
    unchanged: int
    invalid: int
    written: bool = Field(description="False when nothing was written because of invalid rows.")
    problems: list[ImportProblem]

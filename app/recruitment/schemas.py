"""What the volunteer sign-up page accepts."""

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.core.identifiers import validate_rpps
from app.doctors.schemas import Availability, Civility, _phone_or_none


class VolunteerSignup(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rpps: str = Field(max_length=20)
    civility: Civility = "DR"
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    phone: str | None = None
    address: str = Field(min_length=3, max_length=200)
    postcode: str = Field(pattern=r"^\d{5}$")
    city: str = Field(min_length=1, max_length=100)
    availability: Availability = Field(default_factory=Availability)
    website: str | None = Field(default=None, max_length=200, description="Leave empty (anti-robot field).")

    _phone = field_validator("phone")(_phone_or_none)

    @field_validator("rpps")
    @classmethod
    def _rpps(cls, value: str) -> str:
        return validate_rpps(value)

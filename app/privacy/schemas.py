from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.core.identifiers import contact_phone
from app.core.inputs import BoundedDate


class PersonQuery(BaseModel):
    """Who to look for: a phone number, an e-mail address, or the family name, given name and
    birth date together (as written on the request; case and accents do not matter)."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(default=None, max_length=30, examples=["06 12 34 56 78"])
    email: str | None = Field(default=None, max_length=254)
    family_name: str | None = Field(default=None, max_length=100)
    given_name: str | None = Field(default=None, max_length=100)
    birth_date: BoundedDate | None = None


class MessageRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    channel: str
    recipient: str
    subject: str | None
    body: str
    status: str
    created_at: datetime
    sent_at: datetime | None


class EventRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    text: str | None


class RequestRecord(BaseModel):
    id: int
    cpts: str | None
    status: str
    close_reason: str | None
    family_name: str
    given_name: str
    birth_date: date
    phone: str
    email: str | None
    address: str | None
    postcode: str
    commune_name: str
    insee_code: str
    ald: bool
    css: str
    ame: str
    css_or_ame: str
    needs_home_visits: bool
    no_doctor_reason: str
    preferred_channel: str
    languages: list[str]
    comment: str | None
    submitted_by: str
    consent_at: datetime
    created_at: datetime
    updated_at: datetime
    erased: bool = Field(description="Its personal data was erased: only the anonymous facts remain.")
    events: list[EventRecord]
    messages: list[MessageRecord]


class BookingRecord(BaseModel):
    id: int
    cpts: str | None
    status: str
    family_name: str
    given_name: str
    phone: str
    email: str | None
    reason: str
    origin: str
    slot_start: datetime
    created_at: datetime
    messages: list[MessageRecord]


class PersonRecords(BaseModel):
    """Every record of the person the caller may see: what the right of access hands over."""

    searched_at: datetime
    requests: list[RequestRecord]
    bookings: list[BookingRecord]
    messages: list[MessageRecord] = Field(description="Messages to the person that belong to none of the above.")


class RectifyIn(BaseModel):
    """The fields to correct; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    birth_date: BoundedDate | None = None
    phone: str | None = Field(default=None, max_length=30)
    email: EmailStr | None = None
    address: str | None = Field(default=None, max_length=200)

    _phone = field_validator("phone")(lambda value: contact_phone(value) if value else value)

    @field_validator("family_name", "given_name")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = " ".join(value.split())
        if not value:
            raise ValueError("Champ obligatoire.")
        return value

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date | None) -> date | None:
        today = date.today()
        if value is not None and (value > today or today.year - value.year > 120):
            raise ValueError("Date de naissance invalide.")
        return value


class ErasureOut(BaseModel):
    requests: int = Field(description="Requests erased (their anonymous facts stay for the indicators).")
    bookings: int
    messages: int
    message: str

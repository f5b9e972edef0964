from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

from app.core.identifiers import can_receive_sms, contact_phone
from app.core.inputs import DbId
from app.requests.priority import Weights, age_on, priority_of
from app.requests.receipts import to_call, to_call_about_first_visit

if TYPE_CHECKING:
    from app.requests.models import PatientRequest
    from app.requests.ranking import Suggestion

SubmittedBy = Literal["patient", "relative", "professional", "cpam", "coordinator"]
NoDoctorReason = Literal["doctor_left", "moved_in", "never_had", "other"]
Channel = Literal["sms", "email", "phone"]
CloseReason = Literal["found_alone", "unreachable", "withdrew", "moved_out", "duplicate", "other"]


class RequestCreate(BaseModel):
    """The questionnaire. Only what finding a médecin traitant needs."""

    model_config = ConfigDict(extra="forbid")

    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    phone: str = Field(
        description="A number the patient can be called on: any French line (mobile or landline, with or "
        "without +33, spaces, dots) or a foreign mobile with its prefix. SMS go to mobiles only.",
        examples=["06 12 34 56 78", "03 21 55 66 77", "+32 470 12 34 56"],
    )
    email: EmailStr | None = None
    address: str | None = Field(default=None, max_length=200)
    postcode: str = Field(examples=["62217"])
    city: str | None = Field(default=None, max_length=100, description="The commune, picked among the postcode's.")
    ald: bool = False
    css: Literal["yes", "no", "unknown"] = Field(
        default="unknown", description="Has the Complémentaire santé solidaire (CSS, ex-CMU-C / ACS)."
    )
    ame: Literal["yes", "no", "unknown"] = Field(default="unknown", description="Has the Aide médicale de l'État.")
    css_or_ame: Literal["yes", "no", "unknown"] | None = Field(
        default=None,
        description="Deprecated: the one question asked before `css` and `ame`. Read only when both are "
        '`unknown`; its `yes` is kept as "CSS or AME, unknown which".',
        json_schema_extra={"deprecated": True},
    )
    needs_home_visits: bool = False
    no_doctor_reason: NoDoctorReason
    preferred_channel: Channel | None = Field(
        default=None,
        validate_default=True,
        description="How to reach the patient. Default: `sms` for a mobile, `phone` for a landline "
        "(which receives no SMS: `sms` with a landline is refused).",
    )
    languages: list[str] = Field(default_factory=list, max_length=10)
    comment: str | None = Field(default=None, max_length=1000)
    consent: bool = Field(description="Consent to the processing of the data, for the stated purpose and time.")
    consent_version: str | None = Field(
        default=None,
        max_length=32,
        description="The version of the consent text the patient was shown (the questionnaire's, on "
        "/confidentialite); stored with the request. Omitted: the current one. Another: 422.",
        examples=["2026-11/12m"],
    )
    submitted_by: SubmittedBy = "patient"
    patient_consent_attested: bool = Field(
        default=False, description="For a professional or coordinator: the patient agreed."
    )
    source: str | None = Field(default=None, max_length=64, description="Tag of the flyer or QR code.")
    cpts: str | None = Field(default=None, max_length=64, description="Slug of the CPTS whose form this is.")
    website: str | None = Field(default=None, description="Leave empty (anti-robot field).")

    _phone = field_validator("phone")(contact_phone)

    @field_validator("preferred_channel")
    @classmethod
    def _channel_reaches(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The channel must reach the person: SMS to a mobile, e-mail to an address."""
        phone = info.data.get("phone")
        if phone is None:  # the phone itself was refused: that error is enough
            return value
        if value is None:
            return "sms" if can_receive_sms(phone) else "phone"
        if value == "sms" and not can_receive_sms(phone):
            raise ValueError(
                "Être contacté par SMS : ce numéro est un fixe, il ne reçoit pas de SMS. "
                "Choisissez « Appel téléphonique », ou « E-mail » avec votre adresse."
            )
        if value == "email" and "email" in info.data and not info.data["email"]:
            raise ValueError("Être contacté par e-mail : indiquez votre adresse e-mail, ou choisissez un autre moyen.")
        return value

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date) -> date:
        today = date.today()
        if value > today or today.year - value.year > 120:
            raise ValueError("Date de naissance invalide.")
        return value

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool) -> bool:
        if not value:
            raise ValueError("Votre accord est nécessaire pour traiter votre demande.")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        codes = sorted({v.strip().lower() for v in value if v.strip()})
        if any(not (2 <= len(c) <= 3 and c.isalpha() and c.isascii()) for c in codes):
            raise ValueError("Langues : codes ISO 639 attendus (fr, en, ar…).")
        return codes


class SendListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doctor_ids: list[DbId] = Field(min_length=1, max_length=10)
    channel: Literal["sms", "email"] | None = Field(default=None, description="Default: the patient's preferred one.")


class MessagePreview(BaseModel):
    channel: str
    recipient: str
    subject: str | None
    body: str
    sms_segments: int | None = Field(
        default=None, description="SMS only: how many segments it is billed as (GSM 7: 160, then 153 each)."
    )
    sms_cost: str | None = Field(default=None, description="SMS only: segments, length and encoding, in French.")


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivery: str | None = Field(
        default=None, description="SMS through a provider: awaiting (a receipt), delivered, failed or unknown."
    )
    delivery_reason: str | None = Field(default=None, description="Why it failed, in the provider's code and words.")
    delivery_at: datetime | None = None


class PriorityOut(BaseModel):
    groups: list[Literal["ald", "age_70", "css"]]
    score: int
    explanation: str


def read_time_fields(request: "PatientRequest", today: date) -> dict[str, Any]:
    """What a request shows that is not stored as such: its CPTS and source by name, and,
    on `today` (the Paris day it is read), the age, the priority (app.requests.priority's
    rule: the age from the birth date) and the days waiting."""
    priority = priority_of(request, Weights.of(request.territory), today)
    return {
        "cpts": request.territory.slug if request.territory else None,
        "source": request.source.name if request.source else None,
        "age": age_on(request.birth_date, today),
        "priority": PriorityOut(groups=priority.groups, score=priority.score, explanation=priority.explanation),
        "days_waiting": (today - request.created_at.date()).days,
    }


class TerritoryBrief(BaseModel):
    slug: str
    name: str


class SubmissionOut(BaseModel):
    """What the person who submitted sees: no more than they typed, and where it stands."""

    id: int
    status: str
    duplicate: bool = Field(description="The person already had an open request: this is it, updated.")
    territory: TerritoryBrief | None
    commune: str
    message: str
    follow_up_url: str = Field(description="Private link to follow the request. Shown once.")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    doctor_id: int | None
    text: str | None


class RequestOut(BaseModel):
    id: int
    cpts: str | None
    status: str
    close_reason: str | None
    family_name: str
    given_name: str
    birth_date: date
    age: int
    phone: str
    email: str | None
    address: str | None
    postcode: str
    insee_code: str
    commune_name: str
    latitude: float | None
    longitude: float | None
    ald: bool
    css: str
    ame: str
    css_or_ame: str = Field(
        description="What the priority rule reads: `yes` when `css` or `ame` is (or, for a "
        "request older than the two questions, its one answer)."
    )
    needs_home_visits: bool
    no_doctor_reason: str
    preferred_channel: str
    languages: list[str]
    comment: str | None
    submitted_by: str
    source: str | None
    priority: PriorityOut
    days_waiting: int
    matched_doctor_id: int | None
    duplicate_of_id: int | None = Field(
        description="Possibly the same patient as this open request (same phone and birth date): merge or tell apart."
    )
    created_at: datetime
    updated_at: datetime
    events: list[EventOut]
    messages: list[MessageOut]

    @classmethod
    def from_row(cls, request: "PatientRequest", today: date) -> "RequestOut":
        """The whole record as read on `today` (events and messages already loaded with it)."""
        return cls.model_validate(
            {
                **{name: getattr(request, name) for name in _STORED_FIELDS},
                "languages": request.languages or [],
                "events": [EventOut.model_validate(e) for e in request.events],
                "messages": [MessageOut.model_validate(m) for m in request.messages],
                **read_time_fields(request, today),
            }
        )


# RequestOut's fields read as they are stored.
_STORED_FIELDS = (
    "id",
    "status",
    "close_reason",
    "family_name",
    "given_name",
    "birth_date",
    "phone",
    "email",
    "address",
    "postcode",
    "insee_code",
    "commune_name",
    "latitude",
    "longitude",
    "ald",
    "css",
    "ame",
    "css_or_ame",
    "needs_home_visits",
    "no_doctor_reason",
    "preferred_channel",
    "comment",
    "submitted_by",
    "matched_doctor_id",
    "duplicate_of_id",
    "created_at",
    "updated_at",
)


class RequestSummary(BaseModel):
    """A request in the queue, for the API and the workspace's lists alike."""

    id: int
    cpts: str | None
    status: str
    given_name: str
    family_name: str
    age: int
    commune_name: str
    source: str | None
    priority: PriorityOut
    days_waiting: int
    created_at: datetime
    to_call: bool = Field(
        default=False, description="Received and reachable only by phone: call to say it is registered."
    )
    to_call_about_first_visit: bool = Field(
        default=False,
        description="Matched, reachable only by phone: call to ask whether the first appointment took place.",
    )
    possible_duplicate: bool = Field(
        default=False, description="An open request that may be this one again waits for the coordination."
    )
    no_doctor_left: bool = Field(
        default=False,
        description="The automatic offers found no further doctor: handed back to the coordination, to take up.",
    )

    @classmethod
    def from_row(
        cls, request: "PatientRequest", today: date, possible_duplicate: bool = False, no_doctor_left: bool = False
    ) -> "RequestSummary":
        return cls(
            id=request.id,
            possible_duplicate=possible_duplicate,
            no_doctor_left=no_doctor_left,
            to_call=to_call(request),
            to_call_about_first_visit=to_call_about_first_visit(request),
            status=request.status,
            given_name=request.given_name,
            family_name=request.family_name,
            commune_name=request.commune_name,
            created_at=request.created_at,
            **read_time_fields(request, today),
        )

    @property
    def name(self) -> str:
        """As the workspace lists people: FAMILY Given."""
        return f"{self.family_name.upper()} {self.given_name}"


class RequestPage(BaseModel):
    items: list[RequestSummary]
    total: int
    page: int
    per_page: int


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal["proposed", "matched", "closed"]
    doctor_id: DbId | None = Field(default=None, description="For `matched`: the doctor who accepted.")
    reason: CloseReason | None = Field(default=None, description="For `closed`.")
    note: str | None = Field(default=None, max_length=2000)
    notify: bool = Field(default=False, description="Tell the patient the outcome (matched or closed).")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class SuggestionOut(BaseModel):
    """A doctor suggested for a request, for the API and the request's page (list and map)."""

    doctor_id: int
    name: str
    address: str
    commune: str
    phone: str | None
    distance_km: float | None
    places_left: int
    reasons: list[str]
    confirmed_at: datetime
    latitude: float | None = Field(default=None, description="The practice's position (the map).")
    longitude: float | None = None

    @classmethod
    def from_suggestion(cls, suggestion: "Suggestion") -> "SuggestionOut":
        doctor, location = suggestion.doctor, suggestion.location
        return cls(
            doctor_id=doctor.id,
            name=f"Dr {doctor.given_name} {doctor.family_name}",
            address=location.address,
            commune=location.city,
            phone=location.phone or doctor.phone,
            distance_km=round(suggestion.distance_km, 2) if suggestion.distance_km is not None else None,
            places_left=suggestion.places_left,
            reasons=suggestion.reasons,
            confirmed_at=doctor.confirmed_at,
            latitude=location.latitude,
            longitude=location.longitude,
        )


class SuggestionsOut(BaseModel):
    request_id: int
    considered: int = Field(description="Volunteer doctors of the CPTS with places left, looked at.")
    doctors: list[SuggestionOut]
    stale: list[SuggestionOut] = Field(description="Would qualify, but not confirmed for six months: phone them.")

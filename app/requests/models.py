from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow
from app.territories.models import Territory

if TYPE_CHECKING:  # for the annotation only: the relationship names it, the registry resolves it
    from app.notifications.models import OutboxMessage


class RequestStatus(StrEnum):
    RECEIVED = "received"
    PROPOSED = "proposed"  # the list of doctors was sent
    MATCHED = "matched"  # a doctor accepted the patient
    CLOSED = "closed"
    OUT_OF_TERRITORY = "out_of_territory"


OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.PROPOSED)


class Source(Base):
    """Where requests come from: a pharmacy, a surgery, a town hall… (its QR code and flyer)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # Where the flyer is, who to ask there…: for the coordination, never shown to patients.
    details: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The campaign ended: its QR code still opens a page that says so (app/web/request_form.py)
    # and leads to the questionnaire, but credits nothing more to it (app/requests/sources.py).
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    territory: Mapped[Territory] = relationship(lazy="joined")

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class PatientRequest(Base):
    """Somebody without a médecin traitant asking the CPTS for one. Health data: every read
    and change is audited, and only the caller's CPTS sees it (app.accounts.access)."""

    __tablename__ = "patient_requests"
    __table_args__ = (
        # One open request per person and CPTS, even when two submissions race.
        Index(
            "uq_patient_requests_open_identity",
            "territory_id",
            "identity_key",
            unique=True,
            sqlite_where=text("status IN ('received', 'proposed')"),
            postgresql_where=text("status IN ('received', 'proposed')"),
        ),
        # The same phone and birth date in a CPTS: a possible duplicate (app.requests.service).
        Index("ix_patient_requests_birth_date_phone", "territory_id", "birth_date", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The CPTS that handles it; for a request from outside every CPTS, the one whose form or
    # source it came through (for its statistics), if known.
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    close_reason: Mapped[str | None] = mapped_column(String(30))

    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(5))
    insee_code: Mapped[str] = mapped_column(String(5), index=True)
    commune_name: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    precision: Mapped[str | None] = mapped_column(String(20))

    ald: Mapped[bool] = mapped_column(Boolean, default=False)
    # The two answers (yes | no | unknown each), and what the priority rule reads: "yes" when either
    # is (app.requests.priority.css_or_ame_of). A request older than the two questions keeps its
    # one answer: css_or_ame "yes" with css and ame "unknown" is "CSS or AME, unknown which".
    css: Mapped[str] = mapped_column(String(10), default="unknown")
    ame: Mapped[str] = mapped_column(String(10), default="unknown")
    css_or_ame: Mapped[str] = mapped_column(String(10), default="unknown")  # yes | no | unknown
    aged_70_or_more: Mapped[bool] = mapped_column(Boolean, default=False)  # at submission
    needs_home_visits: Mapped[bool] = mapped_column(Boolean, default=False)
    no_doctor_reason: Mapped[str] = mapped_column(String(20))
    preferred_channel: Mapped[str] = mapped_column(String(10))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The consent text accepted (app.privacy.consent); None for requests older than its versions.
    consent_version: Mapped[str | None] = mapped_column(String(32))
    # Set when the personal data was erased (app/privacy/retention.py): names and phone
    # blanked, the birth date reduced to the 1st of January of its decade, the age at intake
    # kept as a band ("60-69"); what the indicators count survives.
    age_band: Mapped[str | None] = mapped_column(String(10))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    submitted_by: Mapped[str] = mapped_column(String(20))  # patient | relative | professional | cpam | coordinator
    submitted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # SHA-256 of the normalised names and birth date: finds the same person again.
    identity_key: Mapped[str] = mapped_column(String(64))
    follow_up_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    matched_doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="SET NULL"))
    # Closing the loop (app/requests/outcomes.py): some days after the match the patient is asked
    # whether the first appointment took place and whether the doctor declared them; "asked" is
    # recorded once (a landline: channel "phone", the coordination calls). The two answers are
    # anonymous facts the indicators count: erasure keeps them (app/privacy/erasure.py).
    confirmation_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmation_channel: Mapped[str | None] = mapped_column(String(10))  # sms | email | phone
    first_visit_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    declared_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The automatic mode found no further doctor to offer it to (all declined or lapsed, or none
    # eligible): it hands the request back to the coordination, whose coordinators get one
    # e-mail (app/requests/offers.py). Set once, never cleared: the automatic mode leaves the
    # request alone from then on, and the alert goes once per request.
    no_doctor_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The follow-up link written in the latest follow-up message (confirmation, satisfaction):
    # only its hash; it opens the same page as the receipt's link, which keeps working.
    answer_link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Possibly the same patient as this earlier open request (same phone and birth date, other
    # names): shown on that request, not as a row of its own, until merged or told apart.
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("patient_requests.id", ondelete="SET NULL"), index=True
    )

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    territory: Mapped[Territory | None] = relationship(lazy="joined")
    source: Mapped[Source | None] = relationship(lazy="joined")
    events: Mapped[list["RequestEvent"]] = relationship(
        back_populates="request", order_by="RequestEvent.id", cascade="all, delete-orphan"
    )
    messages: Mapped[list["OutboxMessage"]] = relationship(order_by="OutboxMessage.id", viewonly=True)


class RequestEvent(Base):
    """The history of a request: status changes (who, when, why) and coordinators' notes."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("patient_requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(10))  # status | note
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(30))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)

    request: Mapped[PatientRequest] = relationship(back_populates="events")


class OfferStatus(StrEnum):
    PENDING = "pending"  # waiting for the doctor's answer
    ACCEPTED = "accepted"  # the doctor took the patient: the request is matched
    DECLINED = "declined"  # "Je ne peux pas"
    EXPIRED = "expired"  # no answer within the delay
    WITHDRAWN = "withdrawn"  # another doctor accepted first, or the request was settled


class DoctorOffer(Base):
    """A patient offered to a doctor (app/requests/offers.py): the doctor answers through a
    short private link. Several may be pending for one request; the first acceptance wins."""

    __tablename__ = "doctor_offers"
    __table_args__ = (
        # A doctor is offered a given patient once.
        Index("uq_doctor_offers_request_doctor", "request_id", "doctor_id", unique=True),
        # The automatic mode has one pending offer per request at a time, even with two workers.
        Index(
            "uq_doctor_offers_one_automatic_pending",
            "request_id",
            unique=True,
            sqlite_where=text("automatic AND status = 'pending'"),
            postgresql_where=text("automatic AND status = 'pending'"),
        ),
        Index("ix_doctor_offers_doctor_status", "doctor_id", "status"),
        # The short link names one offer, found by its hash (NULLs: offers made before 0028).
        Index("uq_doctor_offers_link_hash", "link_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("patient_requests.id", ondelete="CASCADE"), index=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default=OfferStatus.PENDING.value)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)  # the coordinator's note to the doctor
    reason: Mapped[str | None] = mapped_column(String(300))  # why the doctor declined, if said
    offered_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The one reminder sent while it was still unanswered (ORIENTATION_OFFER_REMINDER_AFTER_HOURS).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # SHA-256 of the doctor's short link token (app/requests/offers.py): the link is found by it.
    # None for an offer made before the short links (0028), still answered by its signed link.
    link_hash: Mapped[str | None] = mapped_column(String(64))

    request: Mapped[PatientRequest] = relationship()


class SatisfactionSurvey(Base):
    """The yearly satisfaction questionnaire sent to one patient helped that year: written in the
        transaction that puts the message in the outbox, unique per request and year, so that a
        second run or a second worker sends nothing twice. `answered`: answered once, no more (a flag,
    not a time: the times of surveys and answers side by side would tell whose answers they are).
        Which answers are whose is not kept: they go to `SatisfactionAnswer` with no request."""

    __tablename__ = "satisfaction_surveys"
    __table_args__ = (UniqueConstraint("request_id", "year", name="uq_satisfaction_surveys_request_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("patient_requests.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered: Mapped[bool] = mapped_column(Boolean, default=False)


class SatisfactionAnswer(Base):
    """One questionnaire's answers: the CPTS and the year only, no request, no date, no free text."""

    __tablename__ = "satisfaction_answers"
    __table_args__ = (Index("ix_satisfaction_answers_territory_year", "territory_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    satisfaction: Mapped[str] = mapped_column(String(10))  # very | rather | little | not
    delay: Mapped[str] = mapped_column(String(10))  # short | fair | long
    recommend: Mapped[str] = mapped_column(String(10))  # yes | no

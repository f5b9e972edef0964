"""Erasing a person's data, keeping the anonymous facts the indicators count: the one place
that says what "erased" means, used by the retention run (app/privacy/retention.py) and by the
right to erasure (app/privacy/rights.py). The functions change rows in the caller's
transaction and commit nothing.

What survives a request's erasure: its CPTS, source, status and close reason, commune (INSEE
code, name, postcode), the priority groups at intake (ALD, 70+, CSS), home visits, the reason
for having no doctor, who submitted it, the matched doctor, the dates and the history's status
changes, and what the patient confirmed after the match (first appointment, declared médecin
traitant, their dates: app/requests/outcomes.py); app/requests/reporting.py counts nothing else.
The birth date becomes an age band at intake ("60-69"), the date itself reduced to the 1st of
January of its decade because the column cannot be empty. Names, phone, e-mail, address and
position, languages, free text, the notes, the messages' bodies and recipients go; the follow-up
links stop working."""

from datetime import date, datetime

from sqlalchemy import and_, delete, or_, update
from sqlalchemy.orm import Session

from app.accounts.security import digest, new_secret
from app.core.database import execute_dml
from app.geocoding.cache import cache_key
from app.geocoding.models import GeocodeCacheEntry
from app.notifications.models import MessageStatus, OutboxMessage
from app.requests.models import OPEN_STATUSES, DoctorOffer, OfferStatus, PatientRequest, RequestEvent, RequestStatus
from app.requests.priority import age_on
from app.snp.models import Booking

# Why a message not yet sent never will be: its content is gone.
ERASED_MESSAGE_ERROR = "erased"
# A request still open when its person asks for erasure is closed: the person withdrew.
ERASED_OPEN_REQUEST_REASON = "withdrew"
ERASED_EVENT_TEXT = "Données personnelles effacées à la demande de la personne."
UNDELIVERED = (MessageStatus.PENDING.value, MessageStatus.SENDING.value)
SAS_CHANNEL = "sas"


def age_band(birth_date: date, on: date) -> str:
    """Ten-year bands, "90+" at the top: what the statistics may keep of a birth date."""
    age = max(age_on(birth_date, on), 0)
    if age >= 90:
        return "90+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"


def erase_messages(session: Session, *, request_id: int | None = None, booking_id: int | None = None) -> int:
    """Bodies and recipients of a request's or a booking's messages. One not delivered yet is
    given up first: the worker must never send an emptied message. A booking's push to the SAS
    still on its way is left to go (the platform must learn of the appointment's state); the
    retention run empties it once delivered."""
    if (request_id is None) == (booking_id is None):
        raise ValueError("a request or a booking")
    owner = OutboxMessage.request_id == request_id if request_id is not None else OutboxMessage.booking_id == booking_id
    undelivered = OutboxMessage.status.in_(UNDELIVERED)
    execute_dml(
        session,
        update(OutboxMessage)
        .where(owner, undelivered, OutboxMessage.channel != SAS_CHANNEL)
        .values(status=MessageStatus.FAILED.value, last_error=ERASED_MESSAGE_ERROR, lease_until=None)
        .execution_options(synchronize_session=False),
    )
    return execute_dml(
        session,
        update(OutboxMessage)
        .where(owner, ~undelivered, or_(OutboxMessage.recipient != "", OutboxMessage.body != ""))
        .values(recipient="", subject=None, body="")
        .execution_options(synchronize_session=False),
    ).rowcount


def _forget_geocoding(session: Session, request: PatientRequest) -> None:
    """The BAN's answer for this address is the patient's address too: found by its key (as
    the patient's commune is named officially) or by the exact point it gave the request."""
    if not request.address and request.latitude is None:
        return
    conditions = []
    if request.address:
        conditions.append(GeocodeCacheEntry.key == cache_key(request.address, request.postcode, request.commune_name))
    if request.latitude is not None:
        conditions.append(
            and_(
                GeocodeCacheEntry.insee_code == request.insee_code,
                GeocodeCacheEntry.latitude == request.latitude,
                GeocodeCacheEntry.longitude == request.longitude,
            )
        )
    session.execute(delete(GeocodeCacheEntry).where(or_(*conditions)))


def erase_request(
    session: Session, request: PatientRequest, now: datetime, *, actor: str | None = None, user_id: int | None = None
) -> bool:
    """Blanks one request's personal data; False if it already was. With `actor` (the right to
    erasure: a coordinator's e-mail, or "patient"), the history says so, and a request still
    open is closed ("withdrew") first; the retention run erases closed requests only."""
    if request.erased_at is not None:
        return False
    _forget_geocoding(session, request)
    execute_dml(
        session,
        update(RequestEvent)
        .where(RequestEvent.request_id == request.id, RequestEvent.text.is_not(None))
        .values(text=None)
        .execution_options(synchronize_session=False),
    )
    erase_messages(session, request_id=request.id)
    # The offers to doctors keep their states (the indicators), not the notes and reasons typed.
    execute_dml(
        session,
        update(DoctorOffer)
        .where(DoctorOffer.request_id == request.id)
        .values(note=None, reason=None)
        .execution_options(synchronize_session=False),
    )
    execute_dml(
        session,
        update(DoctorOffer)
        .where(DoctorOffer.request_id == request.id, DoctorOffer.status == OfferStatus.PENDING.value)
        .values(status=OfferStatus.WITHDRAWN.value, answered_at=now)
        .execution_options(synchronize_session=False),
    )
    if actor is not None:
        closing = RequestStatus(request.status) in OPEN_STATUSES
        session.add(
            RequestEvent(
                request_id=request.id,
                user_id=user_id,
                actor=actor,
                kind="status" if closing else "note",
                from_status=request.status if closing else None,
                to_status=RequestStatus.CLOSED.value if closing else None,
                reason=ERASED_OPEN_REQUEST_REASON if closing else None,
                text=ERASED_EVENT_TEXT,
            )
        )
        if closing:
            request.status, request.close_reason = RequestStatus.CLOSED.value, ERASED_OPEN_REQUEST_REASON
        request.updated_at = now
    request.age_band = age_band(request.birth_date, request.created_at.date())
    request.birth_date = date(request.birth_date.year // 10 * 10, 1, 1)
    request.family_name = ""
    request.given_name = ""
    request.phone = ""
    request.email = None
    request.address = None
    request.latitude = None
    request.longitude = None
    request.precision = None
    request.languages = []
    request.comment = None
    request.identity_key = ""
    # Nobody holds the new token: the follow-up link no longer opens anything.
    request.follow_up_token_hash = digest(new_secret())
    request.answer_link_hash = None  # the link of the latest follow-up message, too
    request.erased_at = now
    return True


def erase_booking(session: Session, booking: Booking, now: datetime) -> bool:
    """Blanks the patient's fields of an unscheduled-care booking (and its messages); the
    booking itself (slot, status, origin, FICHE 6's age band and médecin traitant) stays for
    the indicators. False if it already was."""
    if booking.erased_at is not None:
        return False
    erase_messages(session, booking_id=booking.id)
    booking.family_name = ""
    booking.given_name = ""
    booking.phone = ""
    booking.email = None
    booking.reason = ""
    booking.erased_at = now
    return True


def erase_message(message: OutboxMessage) -> bool:
    """A message to the person that belongs to none of their requests or bookings."""
    if message.recipient == "" and message.body == "":
        return False
    if message.status in UNDELIVERED:
        if message.channel == SAS_CHANNEL:
            return False
        message.status, message.last_error, message.lease_until = MessageStatus.FAILED.value, ERASED_MESSAGE_ERROR, None
    message.recipient, message.subject, message.body = "", None, ""
    return True

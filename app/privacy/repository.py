"""Finding every record of a person, within what the caller may see (app.accounts.access)."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.notifications.models import OutboxMessage
from app.requests.models import PatientRequest
from app.snp.models import Booking
from app.territories.models import Territory


@dataclass(frozen=True)
class Who:
    """How a person is recognised: their identity (names and birth date, as the requests'
    identity_key), a phone number (E.164) or an e-mail address (lower case)."""

    identity_key: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class PersonRecords:
    requests: Sequence[PatientRequest] = field(default_factory=list)
    bookings: Sequence[Booking] = field(default_factory=list)
    # Messages sent to the person that belong to none of the records above.
    messages: Sequence[OutboxMessage] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests) + len(self.bookings) + len(self.messages)


def find_person(session: Session, principal: Principal, who: Who) -> PersonRecords:
    """The person's requests first; their phones and e-mails then find the bookings and the
    messages too (a person searched by name is found in the unscheduled-care bookings by the
    phone they gave)."""
    criteria = []
    if who.identity_key:
        criteria.append(PatientRequest.identity_key == who.identity_key)
    if who.phone:
        criteria.append(PatientRequest.phone == who.phone)
    if who.email:
        criteria.append(func.lower(PatientRequest.email) == who.email)
    if not criteria:
        return PersonRecords()
    requests = session.scalars(
        select(PatientRequest)
        .options(selectinload(PatientRequest.events), selectinload(PatientRequest.messages))
        .where(visible(PatientRequest, principal), or_(*criteria))
        .order_by(PatientRequest.created_at, PatientRequest.id)
    ).all()
    phones = {p for p in [who.phone, *(r.phone for r in requests)] if p}
    emails = {e.lower() for e in [who.email, *(r.email for r in requests)] if e}
    booking_criteria = []
    if phones:
        booking_criteria.append(Booking.phone.in_(phones))
    if emails:
        booking_criteria.append(func.lower(Booking.email).in_(emails))
    bookings = session.scalars(
        select(Booking)
        .options(joinedload(Booking.slot))
        .where(visible(Booking, principal), or_(false(), *booking_criteria))
        .order_by(Booking.created_at, Booking.id)
    ).all()
    owned_by = {r.id for r in requests}, {b.id for b in bookings}
    recipients = phones | emails
    messages = session.scalars(
        select(OutboxMessage)
        .where(
            visible(OutboxMessage, principal),
            func.lower(OutboxMessage.recipient).in_(recipients) if recipients else false(),
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    others = [m for m in messages if m.request_id not in owned_by[0] and m.booking_id not in owned_by[1]]
    return PersonRecords(requests=requests, bookings=bookings, messages=others)


def booking_messages(session: Session, booking_ids: list[int]) -> dict[int, list[OutboxMessage]]:
    if not booking_ids:
        return {}
    found: dict[int, list[OutboxMessage]] = {i: [] for i in booking_ids}
    for message in session.scalars(
        select(OutboxMessage).where(OutboxMessage.booking_id.in_(booking_ids)).order_by(OutboxMessage.id)
    ):
        if message.booking_id is not None:  # always, by the query: said for the type checker
            found[message.booking_id].append(message)
    return found


def visible_request(session: Session, principal: Principal, request_id: int) -> PatientRequest | None:
    return session.scalars(
        select(PatientRequest).where(PatientRequest.id == request_id, visible(PatientRequest, principal))
    ).one_or_none()


def territory_slugs(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Territory.id, Territory.slug).where(Territory.id.in_(ids))).all()
    return {territory_id: slug for territory_id, slug in rows}

"""The receipt of a request: at submission, by the channel the patient chose, with the
follow-up link. An SMS goes to a mobile only; a landline without an e-mail gets no written
receipt, and the coordination's queue says "à appeler" instead."""

from sqlalchemy.orm import Session

from app.core.identifiers import can_receive_sms, french_phone
from app.notifications.outbox import enqueue_now
from app.notifications.templates import render
from app.requests.models import PatientRequest, RequestStatus
from app.territories.models import Territory


def receipt_channel(preferred_channel: str, phone: str, email: str | None) -> tuple[str, str] | None:
    """(channel, recipient) of a written message to this person, or None: only a call reaches them.
    E-mail when they chose it; else SMS when the number is a mobile (a mobile asked to be
    called still gets the link in writing); else e-mail if they gave one."""
    if preferred_channel == "email" and email:
        return "email", email
    if can_receive_sms(phone):
        return "sms", phone
    if email:
        return "email", email
    return None


def to_call(request: PatientRequest) -> bool:
    """Reachable only by phone, and something to tell: received (the coordination calls to say
    it is registered) or matched (no written outcome reached them: the coordination calls with
    the doctor's name, address, phone and how to book, as the follow-up page shows them)."""
    return (
        request.status in (RequestStatus.RECEIVED, RequestStatus.MATCHED)
        and receipt_channel(request.preferred_channel, request.phone, request.email) is None
    )


def enqueue_receipt(
    session: Session,
    *,
    request_id: int,
    territory: Territory,
    given_name: str,
    preferred_channel: str,
    phone: str,
    email: str | None,
    follow_up_url: str,
    submitted_by: str | None = None,
) -> bool:
    """In the caller's transaction, with the request it acknowledges. `submitted_by`: the
    organisation or person who filled it in for the patient. False: nothing to write to."""
    reach = receipt_channel(preferred_channel, phone, email)
    if reach is None:
        return False
    channel, recipient = reach
    subject, body = render(
        "receipt",
        channel,
        given_name=given_name,
        territory=territory.name,
        territory_phone=french_phone(territory.phone) or None,
        follow_up_url=follow_up_url,
        by=submitted_by,
    )
    enqueue_now(  # the intake's: a plain INSERT
        session,
        kind="receipt",
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        territory_id=territory.id,
        request_id=request_id,
    )
    return True


def to_call_about_first_visit(request: PatientRequest) -> bool:
    """Matched, asked whether the first appointment took place (app/requests/outcomes.py) but
    reachable only by phone, and no answer yet: the coordination calls to ask."""
    return (
        request.status == RequestStatus.MATCHED
        and request.confirmation_channel == "phone"
        and request.first_visit_confirmed_at is None
    )

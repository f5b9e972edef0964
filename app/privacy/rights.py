"""A person's rights (RGPD articles 15 to 17), exercised through the coordination of the CPTS:
find every record of a person, hand them over (access), correct them (rectification), erase
them now (erasure); and, from the patient's follow-up page, withdraw the request or erase it.

Every step is written to the audit trail: who, what object, never the personal data (a search
is recorded with how many records it found, not with what was typed). The API and the
workspace pages call these functions; they commit (one transaction per step)."""

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.policy import Action, ensure
from app.accounts.principal import Principal
from app.audit.service import record
from app.core.constraints import conflict_for
from app.core.database import execute_dml, utcnow
from app.core.errors import Conflict, FieldError, NotFound, Unprocessable
from app.core.identifiers import can_receive_sms, normalize_phone
from app.privacy import erasure, repository
from app.privacy.schemas import (
    BookingRecord,
    ErasureOut,
    EventRecord,
    MessageRecord,
    PersonQuery,
    PersonRecords,
    RectifyIn,
    RequestRecord,
)
from app.requests.models import OPEN_STATUSES, PatientRequest, RequestEvent, RequestStatus
from app.requests.service import identity_key

SEARCH_HELP = "Indiquez un téléphone, un e-mail, ou le nom, le prénom et la date de naissance."
RECTIFIED_FIELDS = {
    "family_name": "nom",
    "given_name": "prénom",
    "birth_date": "date de naissance",
    "phone": "téléphone",
    "email": "e-mail",
    "address": "adresse",
}
WITHDRAWN_REASON = "withdrew"


def _managers_only(principal: Principal) -> None:
    message = "Seule la coordination de la CPTS traite les demandes d'exercice des droits."
    ensure(principal, Action.EXERCISE_RIGHTS, message)


def who_of(query: PersonQuery) -> repository.Who:
    """What the query names, checked: a phone, an e-mail, or the three identity fields."""
    phone = email = key = None
    if query.phone and query.phone.strip():
        try:
            phone = normalize_phone(query.phone)
        except ValueError as exc:
            raise Unprocessable(str(exc), fields=[FieldError(field="phone", message=str(exc))]) from None
    if query.email and query.email.strip():
        email = query.email.strip().lower()
    names = (query.family_name or "").strip(), (query.given_name or "").strip()
    if any(names) or query.birth_date:
        missing = [
            name
            for name, value in (("family_name", names[0]), ("given_name", names[1]), ("birth_date", query.birth_date))
            if not value
        ]
        if missing:
            message = "Le nom, le prénom et la date de naissance vont ensemble."
            raise Unprocessable(message, fields=[FieldError(field=f, message="Champ obligatoire.") for f in missing])
        assert query.birth_date is not None
        key = identity_key(names[0], names[1], query.birth_date)
    if not (phone or email or key):
        raise Unprocessable(SEARCH_HELP, fields=[FieldError(field="phone", message=SEARCH_HELP)])
    return repository.Who(identity_key=key, phone=phone, email=email)


def _message(m) -> MessageRecord:
    return MessageRecord.model_validate(m)


def request_record(r: PatientRequest) -> RequestRecord:
    return RequestRecord(
        id=r.id,
        cpts=r.territory.slug if r.territory else None,
        status=r.status,
        close_reason=r.close_reason,
        family_name=r.family_name,
        given_name=r.given_name,
        birth_date=r.birth_date,
        phone=r.phone,
        email=r.email,
        address=r.address,
        postcode=r.postcode,
        commune_name=r.commune_name,
        insee_code=r.insee_code,
        ald=r.ald,
        css=r.css,
        ame=r.ame,
        css_or_ame=r.css_or_ame,
        needs_home_visits=r.needs_home_visits,
        no_doctor_reason=r.no_doctor_reason,
        preferred_channel=r.preferred_channel,
        languages=r.languages or [],
        comment=r.comment,
        submitted_by=r.submitted_by,
        consent_at=r.consent_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        erased=r.erased_at is not None,
        events=[EventRecord.model_validate(e) for e in r.events],
        messages=[_message(m) for m in r.messages],
    )


def _records(session: Session, found: repository.PersonRecords) -> PersonRecords:
    by_booking = repository.booking_messages(session, [b.id for b in found.bookings])
    slugs = repository.territory_slugs(session, {b.territory_id for b in found.bookings})
    return PersonRecords(
        searched_at=utcnow(),
        requests=[request_record(r) for r in found.requests],
        bookings=[
            BookingRecord(
                id=b.id,
                cpts=slugs.get(b.territory_id),
                status=b.status,
                family_name=b.family_name,
                given_name=b.given_name,
                phone=b.phone,
                email=b.email,
                reason=b.reason,
                origin=b.origin,
                slot_start=b.slot.start_at,
                created_at=b.created_at,
                messages=[_message(m) for m in by_booking.get(b.id, [])],
            )
            for b in found.bookings
        ],
        messages=[_message(m) for m in found.messages],
    )


def _audit_records(
    session: Session, principal: Principal, action: str, found: repository.PersonRecords, territory_id: int | None
) -> None:
    """One entry for the step (with how many records, never what was searched), one per record."""
    record(session, principal, f"privacy.{action}", "person", found.count, territory_id)
    for r in found.requests:
        record(session, principal, f"privacy.{action}", "patient_request", r.id, r.territory_id)
    for b in found.bookings:
        record(session, principal, f"privacy.{action}", "snp_booking", b.id, b.territory_id)
    for m in found.messages:
        record(session, principal, f"privacy.{action}", "outbox_message", m.id, m.territory_id)


def search(
    session: Session, principal: Principal, query: PersonQuery, territory_id: int | None = None, *, action="search"
) -> PersonRecords:
    """Every record of the person the caller may see. `territory_id`: the CPTS the caller works
    in, for the audit entry of the search itself. `action="export"` for the right of access."""
    _managers_only(principal)
    who = who_of(query)
    found = repository.find_person(session, principal, who)
    records = _records(session, found)
    _audit_records(session, principal, action, found, territory_id)
    return records


def export(
    session: Session, principal: Principal, query: PersonQuery, territory_id: int | None = None
) -> PersonRecords:
    return search(session, principal, query, territory_id, action="export")


def export_filename(at: datetime) -> str:
    return f"donnees-personnelles-{at.strftime('%Y%m%d-%H%M%S')}"


def erase(session: Session, principal: Principal, query: PersonQuery, territory_id: int | None = None) -> ErasureOut:
    """Erases now every record of the person the caller may see (the anonymous facts stay)."""
    _managers_only(principal)
    found = repository.find_person(session, principal, who_of(query))
    now = utcnow()
    requests = sum(
        erasure.erase_request(session, r, now, actor=principal.email, user_id=principal.user_id) for r in found.requests
    )
    bookings = sum(erasure.erase_booking(session, b, now) for b in found.bookings)
    messages = sum(erasure.erase_message(m) for m in found.messages)
    _audit_records(session, principal, "erase", found, territory_id)
    total = requests + bookings + messages
    if total == 0:
        text = "Aucune donnée personnelle à effacer pour cette personne."
    else:
        text = (
            f"Données effacées : {requests} demande(s), {bookings} rendez-vous, {messages} message(s). "
            "Les faits anonymes utiles aux indicateurs sont conservés."
        )
    return ErasureOut(requests=requests, bookings=bookings, messages=messages, message=text)


def rectify(session: Session, principal: Principal, request_id: int, data: RectifyIn) -> PatientRequest:
    """Corrects the identity or the contact of a request; the history says which fields, not how."""
    _managers_only(principal)
    request = repository.visible_request(session, principal, request_id)
    if request is None:
        raise NotFound("Demande introuvable.")
    if request.erased_at is not None:
        raise Conflict("Les données de cette demande ont été effacées : il n'y a plus rien à rectifier.")
    changes: dict[str, Any] = {
        name: (str(value) if name == "email" and value is not None else value)
        for name, value in data.model_dump(exclude_unset=True).items()
        if name in RECTIFIED_FIELDS and value != getattr(request, name)
    }
    if any(name in changes and changes[name] is None for name in ("family_name", "given_name", "birth_date", "phone")):
        message = "Ce champ ne peut pas être vidé."
        fields = [
            n for n in ("family_name", "given_name", "birth_date", "phone") if n in changes and changes[n] is None
        ]
        raise Unprocessable(message, fields=[FieldError(field=f, message=message) for f in fields])
    if not changes:
        return request
    if "phone" in changes and request.preferred_channel == "sms" and not can_receive_sms(changes["phone"]):
        changes["preferred_channel"] = "phone"  # a landline: the coordination calls
    new_key = identity_key(
        changes.get("family_name", request.family_name),
        changes.get("given_name", request.given_name),
        changes.get("birth_date", request.birth_date),
    )
    try:
        execute_dml(
            session,
            update(PatientRequest)
            .where(PatientRequest.id == request.id)
            .values(**changes, identity_key=new_key, updated_at=utcnow())
            .execution_options(synchronize_session=False),
        )
    except IntegrityError as error:  # the person's other open request (core/constraints.py)
        raise conflict_for(error) or error from None
    labels = ", ".join(RECTIFIED_FIELDS[name] for name in changes if name in RECTIFIED_FIELDS)
    session.add(
        RequestEvent(
            request_id=request.id,
            user_id=principal.user_id,
            actor=principal.email,
            kind="note",
            text=f"Données rectifiées à la demande de la personne : {labels}.",
        )
    )
    record(session, principal, "privacy.rectify", "patient_request", request.id, request.territory_id)
    session.flush()  # before forgetting what was loaded: the reload reads what was written
    session.expire_all()
    reloaded = repository.visible_request(session, principal, request_id)
    if reloaded is None:  # read through the same visibility a moment ago, in this transaction
        raise NotFound("Demande introuvable.")
    return reloaded


# The patient, from the follow-up page (the link is the proof: no account).


def withdraw(session: Session, request: PatientRequest, client_address: str | None) -> bool:
    """The patient withdraws an open request: closed as "withdrew". False if not open."""
    if RequestStatus(request.status) not in OPEN_STATUSES:
        return False
    changed = execute_dml(
        session,
        update(PatientRequest)
        .where(PatientRequest.id == request.id, PatientRequest.status == request.status)
        .values(status=RequestStatus.CLOSED.value, close_reason=WITHDRAWN_REASON, updated_at=utcnow())
        .execution_options(synchronize_session=False),
    ).rowcount
    if changed != 1:  # nothing written: someone else changed it first
        return False
    session.add(
        RequestEvent(
            request_id=request.id,
            actor="patient",
            kind="status",
            from_status=request.status,
            to_status=RequestStatus.CLOSED.value,
            reason=WITHDRAWN_REASON,
            text="Demande retirée par le patient depuis son lien de suivi.",
        )
    )
    record(
        session,
        None,
        "request.withdraw",
        "patient_request",
        request.id,
        request.territory_id,
        actor="patient",
        client_address=client_address,
    )
    return True


def erase_own(session: Session, request: PatientRequest, client_address: str | None) -> None:
    """The patient erases their request now (it is closed first if still open)."""
    request_id, territory_id = request.id, request.territory_id
    erasure.erase_request(session, request, utcnow(), actor="patient")
    record(
        session,
        None,
        "privacy.erase",
        "patient_request",
        request_id,
        territory_id,
        actor="patient",
        client_address=client_address,
    )

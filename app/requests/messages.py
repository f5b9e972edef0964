"""Messages to patients: the list of doctors, the outcome. Written to the outbox in the same
transaction as the change they announce."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.audit.service import record
from app.core.errors import Conflict, FieldError, Unprocessable
from app.core.identifiers import can_receive_sms, french_phone
from app.doctors import repository as doctors_repository
from app.doctors.models import Doctor
from app.notifications.gsm import cost
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.requests.models import PatientRequest, RequestEvent, RequestStatus
from app.requests.ranking import placed_distance_to
from app.requests.receipts import receipt_channel
from app.requests.schemas import MessagePreview, SendListIn
from app.requests.service import get_request, move


def _recipient(request: PatientRequest, channel: str | None) -> tuple[str, str]:
    channel = channel or request.preferred_channel
    if channel == "phone":
        message = "Le patient préfère être appelé : choisissez SMS ou e-mail pour lui écrire."
        raise Unprocessable(message, fields=[FieldError(field="channel", message=message)])
    if channel != "email":
        if not can_receive_sms(request.phone):
            message = "Ce numéro est un fixe, il ne reçoit pas de SMS : appelez le patient, ou écrivez-lui par e-mail."
            raise Unprocessable(message, fields=[FieldError(field="channel", message=message)])
        return channel, request.phone
    if not request.email:
        message = "Pas d'adresse e-mail pour ce patient : envoyez un SMS."
        raise Unprocessable(message, fields=[FieldError(field="channel", message=message)])
    return channel, request.email


def _doctors(session: Session, request: PatientRequest, doctor_ids: list[int]) -> list[Doctor]:
    found = {
        d.id: d
        for d in session.scalars(
            select(Doctor).where(
                Doctor.id.in_(doctor_ids), Doctor.territory_id == request.territory_id, Doctor.active.is_(True)
            )
        )
    }
    missing = [i for i in doctor_ids if i not in found]
    if missing:
        message = f"Médecins inconnus dans cette CPTS : {', '.join(map(str, missing))}."
        raise Unprocessable(message, fields=[FieldError(field="doctor_ids", message=message)])
    return [found[i] for i in doctor_ids]


def _context(request: PatientRequest) -> dict[str, object]:
    territory = request.territory
    if territory is None:  # a request from outside every CPTS: it is never written to
        raise Conflict("Cette demande ne relève d'aucune CPTS.")
    return {
        "given_name": request.given_name,
        "territory": territory.name,
        "territory_phone": french_phone(territory.phone) or None,
    }


def doctor_lines(request: PatientRequest, doctor: Doctor) -> dict[str, str | None]:
    """A doctor as a message names it. The distance only between two placed addresses: from a
    commune's centre it would be a figure about nobody's home ("à 0,0 km")."""
    location = doctor.locations[0]
    distance = placed_distance_to(request, location)
    return {
        "name": f"Dr {doctor.given_name} {doctor.family_name}",
        "address": location.address,
        "commune": location.city,
        "phone": french_phone(location.phone or doctor.phone) or None,
        "distance": f"{distance:.1f}".replace(".", ",") if distance is not None else None,
    }


def matched_doctor_lines(session: Session, request: PatientRequest) -> dict[str, str | None] | None:
    """The doctor a matched request names, as the outcome message and the follow-up page say it."""
    if request.status != RequestStatus.MATCHED or request.matched_doctor_id is None:
        return None
    doctor = doctors_repository.get_unscoped(session, request.matched_doctor_id)
    return doctor_lines(request, doctor) if doctor is not None and doctor.locations else None


def compose_doctor_list(
    session: Session, principal: Principal, request_id: int, data: SendListIn
) -> tuple[PatientRequest, MessagePreview]:
    request = get_request(session, principal, request_id)
    if request.status not in (RequestStatus.RECEIVED, RequestStatus.PROPOSED):
        raise Conflict("La demande n'est plus ouverte.")
    channel, recipient = _recipient(request, data.channel)
    doctors = []
    for doctor in _doctors(session, request, data.doctor_ids):
        doctors.append(doctor_lines(request, doctor))
    subject, body = render("doctor_list", channel, doctors=doctors, **_context(request))
    preview = MessagePreview(channel=channel, recipient=recipient, subject=subject, body=body)
    if channel == "sms":  # what it costs, shown before it is sent
        sms = cost(body)
        preview.sms_segments, preview.sms_cost = sms.segments, sms.label
    return request, preview


def send_doctor_list(session: Session, principal: Principal, request_id: int, data: SendListIn) -> None:
    request, message = compose_doctor_list(session, principal, request_id, data)
    enqueue(
        session,
        kind="doctor_list",
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        body=message.body,
        territory_id=request.territory_id,
        request_id=request.id,
    )
    note = f"Liste de {len(data.doctor_ids)} médecin(s) envoyée par {message.channel.upper()}."
    if request.status == RequestStatus.RECEIVED:
        move(session, principal, request, RequestStatus.PROPOSED, note=note)
    else:
        session.add(
            RequestEvent(
                request_id=request.id, user_id=principal.user_id, actor=principal.email, kind="note", text=note
            )
        )
    record(session, principal, "request.send_list", "patient_request", request.id, request.territory_id)


# Why a request was closed, as the patient reads it ("Votre demande … est close : …").
CLOSED_BECAUSE = {
    "found_alone": "vous nous avez indiqué avoir trouvé un médecin traitant",
    "unreachable": "nous n'avons pas réussi à vous joindre",
    "withdrew": "vous nous avez indiqué ne plus en avoir besoin",
    "moved_out": "vous avez quitté le territoire de la CPTS",
}


def enqueue_outcome(
    session: Session,
    request: PatientRequest,
    status: RequestStatus,
    doctor: Doctor | None,
    close_reason: str | None = None,
) -> None:
    """Tells the patient the outcome: the doctor found (where, how to reach the practice, how
    the first appointment goes), or why the request is closed and how to reach the
    coordination. Never for a duplicate: the patient's other request goes on."""
    if status is RequestStatus.CLOSED and close_reason == "duplicate":
        return
    # By the receipt's rule: e-mail when chosen, else SMS to a mobile, else e-mail if any.
    reach = receipt_channel(request.preferred_channel, request.phone, request.email)
    if reach is None:  # a landline only: the coordination tells them on the phone
        return
    channel, recipient = reach
    subject, body = render(
        "outcome",
        channel,
        status=status.value,
        doctor=doctor_lines(request, doctor) if doctor else None,
        closed_because=CLOSED_BECAUSE.get(close_reason or ""),
        **_context(request),
    )
    enqueue(
        session,
        kind="outcome",
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        territory_id=request.territory_id,
        request_id=request.id,
    )

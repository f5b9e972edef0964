"""Offers of a patient to doctors: the coordinator offers a request to one or several ranked
doctors at once, or the automatic mode of a CPTS (Territory.auto_offers_since) offers each new
eligible request to the best-ranked doctor, then to the next when one declines or lets the
delay (ORIENTATION_OFFER_ANSWER_HOURS) pass. The doctor answers through a short private link; one
who has not answered is reminded once (ORIENTATION_OFFER_REMINDER_AFTER_HOURS). When the
automatic mode runs out of doctors for a request, it hands it back to the coordination
(`hand_back`: marked on the queue, one e-mail to the CPTS's coordinators).

The first acceptance wins, exactly once: accepting moves the request "proposed" → "matched"
with `service.move`, whose UPDATE checks the status again (of two doctors accepting at once,
one changes the row, the other finds it matched and is thanked), and takes the place with the
doctors' one rule (`doctors.repository.take_place`). The other pending offers are withdrawn and
their doctors told; the patient gets the outcome message (`messages.enqueue_outcome`).

What a doctor reads before accepting: the age band, the commune and distance, the priority
(ALD, 70 and over, CSS), whether home visits are needed, the languages, the coordinator's note;
never the name, phone or birth date. After accepting, the patient's name and phone (README,
"Offers to doctors", says why)."""

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.access import may_act_in
from app.accounts.models import Role
from app.accounts.policy import Action, ensure
from app.accounts.principal import Principal
from app.accounts.security import digest
from app.audit.service import record
from app.core.database import all_or_nothing, execute_dml, utcnow
from app.core.errors import Conflict, FieldError, Forbidden, Unprocessable
from app.core.identifiers import can_receive_sms, french_phone
from app.core.settings import Settings, secret_key
from app.doctors import repository as doctors_repository
from app.doctors.models import Doctor
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.requests import repository
from app.requests.models import DoctorOffer, OfferStatus, PatientRequest, RequestEvent, RequestStatus
from app.requests.priority import GROUP_LABELS, day_in_paris, groups_of
from app.requests.ranking import FAIRNESS_DAYS, LANGUAGE_NAMES, distance_to, rank_doctors
from app.territories import repository as territories_repository
from app.territories.models import Territory

logger = logging.getLogger(__name__)
# The automatic offers act as the service itself, through the same rules.
AUTOMATIC = Principal(
    user_id=None,
    email="propositions automatiques",
    role=Role.ADMIN,
    territory_ids=frozenset(),
    doctor_id=None,
    client_address=None,
)


# ---- Links ----------------------------------------------------------------------------------


LINK_TOKEN_LENGTH = 22  # 16 bytes (128 bits) in URL-safe base64, without its padding
_LINK_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{LINK_TOKEN_LENGTH}}}")
_LINK_PURPOSE = b"doctor-offer-link"  # keeps these MACs apart from any other use of the secret key


def _short_token(settings: Settings, offer_id: int, doctor_id: int) -> str:
    """The offer's short token: an HMAC-SHA256 of the offer and its doctor under the service's
    secret key, cut to 128 bits. Unguessable without the key, and the same each time it is
    made, so the reminder and the doctor's space give the very link the offer's message gave
    (a random token kept only hashed could not be written again)."""
    message = _LINK_PURPOSE + f":{offer_id}:{doctor_id}".encode()
    mac = hmac.new(secret_key(settings).encode(), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue_link(settings: Settings, offer: DoctorOffer) -> None:
    """Gives a new offer (its id flushed) its short link: only the token's SHA-256 is kept."""
    offer.link_hash = digest(_short_token(settings, offer.id, offer.doctor_id))


def offer_url(settings: Settings, base_url: str, offer: DoctorOffer) -> str:
    """The doctor's link, private (it names the offer and proves the doctor): 22 characters
    after `/medecins/propositions/`. It opens the offer until it is answered or past its delay
    (expires_at, read against the service's clock), then shows it closed. An offer made before
    the short links (no link_hash) keeps the signed link it was sent, until it lapses."""
    if offer.link_hash is None:
        token = legacy_token(settings, offer.id, offer.doctor_id)
    else:
        token = _short_token(settings, offer.id, offer.doctor_id)
    return f"{base_url.rstrip('/')}/medecins/propositions/{token}"


# The links sent before the short ones (0028): an itsdangerous-signed {offer, doctor}, about
# 50 characters after the path. Still answered, for the offers that were sent one, as before.
_LEGACY_SALT = "doctor-offer"


def _legacy_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(settings), salt=_LEGACY_SALT)


def legacy_token(settings: Settings, offer_id: int, doctor_id: int) -> str:
    return _legacy_serializer(settings).dumps({"o": offer_id, "d": doctor_id})


def _read_legacy_token(settings: Settings, token: str) -> tuple[int, int] | None:
    try:
        payload = _legacy_serializer(settings).loads(token)
        return int(payload["o"]), int(payload["d"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


# ---- Load (fairness) ------------------------------------------------------------------------


def load_of_doctors(
    session: Session, principal: Principal, territory_id: int, now: datetime | None = None
) -> dict[int, int]:
    """Offers pending, or accepted in the last FAIRNESS_DAYS, per doctor of the CPTS: the
    ranking's fairness term (app/requests/ranking.py)."""
    return repository.offer_load(session, principal, territory_id, (now or utcnow()) - timedelta(days=FAIRNESS_DAYS))


def offers_of_request(session: Session, principal: Principal, request_id: int) -> list[DoctorOffer]:
    return repository.offers_of_request(session, principal, request_id)


def pending_offers_of_doctor(session: Session, principal: Principal, doctor_id: int) -> list[DoctorOffer]:
    return repository.pending_offers_of_doctor(session, principal, doctor_id, utcnow())


def reload(session: Session, offer: DoctorOffer) -> DoctorOffer:
    """The offer as it is now (after an answer)."""
    session.expire_all()
    fresh = repository.offer_unscoped(session, offer.id)
    assert fresh is not None  # offers are not deleted but with their request
    return fresh


# ---- Offering -------------------------------------------------------------------------------


def _territory_context(territory: Territory) -> dict[str, object]:
    return {"territory": territory.name, "territory_phone": french_phone(territory.phone) or None}


def _tell_doctor(session: Session, kind: str, doctor: Doctor, offer: DoctorOffer, **context: object) -> None:
    """An e-mail to the doctor, and an SMS too when its phone is a mobile."""
    request = offer.request
    territory = request.territory
    assert territory is not None  # an offer is made inside a CPTS
    full = {"family_name": doctor.family_name, "commune": request.commune_name, **_territory_context(territory)}
    full.update(context)
    channels = [("email", doctor.email)]
    if doctor.phone and can_receive_sms(doctor.phone):
        channels.append(("sms", doctor.phone))
    for channel, recipient in channels:
        subject, body = render(kind, channel, **full)
        enqueue(
            session,
            kind=kind,
            channel=channel,
            recipient=recipient,
            subject=subject,
            body=body,
            territory_id=offer.territory_id,
            doctor_id=doctor.id,
        )


def offer_to_doctors(
    session: Session,
    settings: Settings,
    base_url: str,
    principal: Principal,
    request: PatientRequest,
    doctor_ids: list[int],
    note: str | None = None,
    *,
    automatic: bool = False,
    now: datetime | None = None,
) -> list[DoctorOffer]:
    """Offers the request to these doctors (each must be among its ranked doctors), mails
    each its link; a received request becomes "proposed"."""
    from app.requests.service import move

    ensure(principal, Action.OFFER_PATIENT, "Seul un coordinateur propose un patient aux médecins.")
    now = now or utcnow()
    if request.status not in (RequestStatus.RECEIVED, RequestStatus.PROPOSED) or request.territory_id is None:
        raise Conflict("La demande n'est plus ouverte.")
    if not doctor_ids:
        message = "Choisissez au moins un médecin."
        raise Unprocessable(message, fields=[FieldError(field="doctor_ids", message=message)])
    ranking = rank_doctors(
        request, doctors_repository.cards_of_doctors_with_places(session, request.territory_id), limit=10_000, now=now
    )
    rankable = {s.doctor.id for s in ranking.eligible + ranking.stale}
    already = {o.doctor_id for o in offers_of_request(session, principal, request.id)}
    refused = [i for i in doctor_ids if i not in rankable or i in already]
    if refused:
        message = (
            "Médecins impossibles à solliciter pour ce patient (plus de place, conditions, ou déjà sollicités) : "
            + ", ".join(map(str, refused))
            + "."
        )
        raise Unprocessable(message, fields=[FieldError(field="doctor_ids", message=message)])
    if request.status == RequestStatus.RECEIVED:
        move(session, principal, request, RequestStatus.PROPOSED, note="Proposée aux médecins.")
    expires_at = now + timedelta(hours=settings.offer_answer_hours)
    offers = []
    for doctor_id in dict.fromkeys(doctor_ids):
        doctor = doctors_repository.get_unscoped(session, doctor_id)
        assert doctor is not None  # ranked just above
        offer = DoctorOffer(
            territory_id=request.territory_id,
            request_id=request.id,
            doctor_id=doctor_id,
            status=OfferStatus.PENDING.value,
            automatic=automatic,
            note=note or None,
            offered_by=principal.email,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(offer)
        session.flush()  # its id, for the link (a second automatic offer fails here: the unique index)
        issue_link(settings, offer)
        offer.request = request
        _tell_doctor(
            session,
            "offer",
            doctor,
            offer,
            link=offer_url(settings, base_url, offer),
            hours=settings.offer_answer_hours,
        )
        record(session, principal, "request.offer", "doctor_offer", offer.id, request.territory_id)
        offers.append(offer)
    session.add(
        RequestEvent(
            request_id=request.id,
            user_id=principal.user_id,
            actor=principal.email,
            kind="note",
            text=f"Proposée à {len(offers)} médecin(s)" + (" (automatiquement)." if automatic else "."),
        )
    )
    return offers


# ---- What the doctor reads -------------------------------------------------------------------


def age_band(request: PatientRequest, now: datetime | None = None) -> str:
    """Ten-year bands, by the privacy rule's (what the statistics keep of a birth date)."""
    from app.privacy.erasure import age_band as band

    return f"{request.age_band or band(request.birth_date, day_in_paris(now or utcnow()))} ans"


@dataclass
class OfferView:
    """The offer as the doctor's page shows it: nothing identifying before acceptance."""

    offer: DoctorOffer
    doctor: Doctor
    age_band: str
    commune: str
    distance_km: int | None
    priorities: list[str]
    home_visits: bool
    languages: list[str]
    note: str | None
    # After the doctor's acceptance only.
    patient_name: str | None = None
    patient_phone: str | None = None


def offer_of_link(session: Session, settings: Settings, token: str) -> DoctorOffer | None:
    """The offer a doctor's link names (the link proves the doctor: no account needed). A
    short token is looked up by its hash, then checked against the one made for that offer in
    constant time; a signed link of before (longer, with a dot) opens only an offer that was
    never given a short one."""
    if _LINK_TOKEN.fullmatch(token):
        offer = repository.offer_by_link_hash(session, digest(token))
        if offer is None or not hmac.compare_digest(token, _short_token(settings, offer.id, offer.doctor_id)):
            return None
        return offer
    read = _read_legacy_token(settings, token)
    if read is None:
        return None
    offer = repository.offer_unscoped(session, read[0])
    if offer is None or offer.doctor_id != read[1] or offer.link_hash is not None:
        return None
    return offer


def view(session: Session, offer: DoctorOffer, now: datetime | None = None) -> OfferView:
    request = offer.request
    doctor = doctors_repository.get_unscoped(session, offer.doctor_id)
    assert doctor is not None  # the offer goes with its doctor (ON DELETE CASCADE)
    distances = [d for d in (distance_to(request, loc) for loc in doctor.locations) if d is not None]
    groups = groups_of(request, day_in_paris(now or utcnow()))
    result = OfferView(
        offer=offer,
        doctor=doctor,
        age_band=age_band(request, now),
        commune=request.commune_name,
        distance_km=round(min(distances)) if distances else None,
        priorities=[GROUP_LABELS[g] for g in groups],
        home_visits=request.needs_home_visits,
        languages=[LANGUAGE_NAMES.get(code, code) for code in request.languages or []],
        note=offer.note,
    )
    if offer.status == OfferStatus.ACCEPTED.value and request.matched_doctor_id == offer.doctor_id:
        result.patient_name = f"{request.given_name} {request.family_name}"
        result.patient_phone = french_phone(request.phone) or request.phone
    return result


# ---- Answers --------------------------------------------------------------------------------


def doctor_principal(doctor: Doctor) -> Principal:
    return Principal(
        user_id=None,
        email=f"Dr {doctor.given_name} {doctor.family_name} (lien de proposition)",
        role=Role.DOCTOR,
        territory_ids=frozenset({doctor.territory_id}),
        doctor_id=doctor.id,
        client_address=None,
    )


def is_open(offer: DoctorOffer, now: datetime | None = None) -> bool:
    return offer.status == OfferStatus.PENDING.value and offer.expires_at > (now or utcnow())


def _settle(session: Session, offer: DoctorOffer, status: OfferStatus, reason: str | None, now: datetime) -> bool:
    """pending → status, once: False when it was no longer pending."""
    return (
        execute_dml(
            session,
            update(DoctorOffer)
            .where(DoctorOffer.id == offer.id, DoctorOffer.status == OfferStatus.PENDING.value)
            .values(status=status.value, reason=reason, answered_at=now)
            .execution_options(synchronize_session=False),
        ).rowcount
        == 1
    )


def accept(session: Session, offer: DoctorOffer, client_address: str | None = None) -> str:
    """ "accepted" (this doctor has the patient), "taken" (another doctor or the coordination
    was first), "expired" (past its delay), or "no_place" (the doctor has no place left)."""
    from app.requests.messages import enqueue_outcome
    from app.requests.service import move

    now = utcnow()
    if not is_open(offer, now):
        return "expired" if offer.status in (OfferStatus.PENDING.value, OfferStatus.EXPIRED.value) else "taken"
    request = offer.request
    doctor = doctors_repository.get_unscoped(session, offer.doctor_id)
    assert doctor is not None
    actor = doctor_principal(doctor)
    try:
        with all_or_nothing(session):
            # Offering made the request "proposed" (offer_to_doctors). The UPDATE checks
            # "proposed" again: of two acceptances at once, one only passes.
            move(
                session,
                actor,
                request,
                RequestStatus.MATCHED,
                note="A accepté la proposition.",
                matched_doctor_id=doctor.id,
            )
            if not doctors_repository.take_place(session, doctor.id):
                raise Conflict("Plus de place")
            if not _settle(session, offer, OfferStatus.ACCEPTED, None, now):
                raise Conflict("Proposition déjà close")
    except Conflict:
        session.expire_all()
        session.refresh(request)
        return "no_place" if request.status == RequestStatus.PROPOSED and is_open(offer, now) else "taken"
    session.expire_all()
    _withdraw_others(session, request, offer.id, now)
    matched = repository.request_unscoped(session, offer.request_id)
    assert matched is not None
    enqueue_outcome(session, matched, RequestStatus.MATCHED, doctor)
    record(
        session,
        None,
        "request.offer_accepted",
        "doctor_offer",
        offer.id,
        offer.territory_id,
        actor=actor.email,
        client_address=client_address,
    )
    return "accepted"


def withdraw_pending(session: Session, request: PatientRequest, now: datetime | None = None) -> None:
    """The request was settled otherwise (matched or closed by the coordination, erased): its
    pending offers are withdrawn and their doctors told."""
    _withdraw_others(session, request, None, now or utcnow())


def _withdraw_others(session: Session, request: PatientRequest, winner_id: int | None, now: datetime) -> None:
    for other in repository.other_pending_offers(session, request.id, winner_id):
        if _settle(session, other, OfferStatus.WITHDRAWN, None, now):
            doctor = doctors_repository.get_unscoped(session, other.doctor_id)
            if doctor is not None:
                _tell_doctor(session, "offer_withdrawn", doctor, other)


def decline(session: Session, offer: DoctorOffer, reason: str | None, client_address: str | None = None) -> bool:
    """ "Je ne peux pas": False when the offer was no longer open."""
    now = utcnow()
    if not is_open(offer, now) or not _settle(session, offer, OfferStatus.DECLINED, (reason or "")[:300] or None, now):
        return False
    doctor = doctors_repository.get_unscoped(session, offer.doctor_id)
    actor = doctor_principal(doctor) if doctor else None
    session.add(
        RequestEvent(
            request_id=offer.request_id,
            actor=actor.email if actor else "médecin",
            kind="note",
            doctor_id=offer.doctor_id,
            text="Proposition déclinée" + (f" : {reason}" if reason else "."),
        )
    )
    record(
        session,
        None,
        "request.offer_declined",
        "doctor_offer",
        offer.id,
        offer.territory_id,
        actor=actor.email if actor else None,
        client_address=client_address,
    )
    return True


# ---- The automatic mode (run by the outbox worker) ------------------------------------------


def expire_lapsed(session: Session, now: datetime) -> int:
    """Pending offers past their delay become "expired" (idempotent: the status is checked in
    the UPDATE)."""
    count = 0
    for offer in repository.lapsed_offers(session, now):
        if _settle(session, offer, OfferStatus.EXPIRED, None, now):
            session.add(
                RequestEvent(
                    request_id=offer.request_id,
                    actor=AUTOMATIC.email,
                    kind="note",
                    doctor_id=offer.doctor_id,
                    text="Proposition sans réponse dans le délai : close.",
                )
            )
            count += 1
    return count


def _waiting_for_an_offer(session: Session, territory: Territory) -> list[PatientRequest]:
    return repository.waiting_for_an_offer(session, AUTOMATIC, territory)


def run_automatic(session: Session, settings: Settings, now: datetime) -> int:
    """One step of the automatic mode: lapsed offers expire, then each waiting request of an
    automatic CPTS goes to its best-ranked doctor not asked yet. Commits each request on its
    own; a second worker offering the same request at once hits the unique index (one automatic
    offer pending per request) and is rolled back. Returns how many offers were made."""
    expire_lapsed(session, now)
    session.commit()
    if not settings.public_url:  # the worker has no request to take the address from: no link to hand out
        if repository.automatic_territories(session):
            logger.warning("automatic_offers_need_public_url")
        return 0
    base_url = str(settings.public_url).rstrip("/")
    made = 0
    for territory in repository.automatic_territories(session):
        for request in _waiting_for_an_offer(session, territory):
            asked = {o.doctor_id for o in offers_of_request(session, AUTOMATIC, request.id)}
            ranking = rank_doctors(
                request,
                doctors_repository.cards_of_doctors_with_places(session, territory.id),
                limit=10_000,
                now=now,
                load=load_of_doctors(session, AUTOMATIC, territory.id, now),
            )
            best = next((s.doctor.id for s in ranking.eligible if s.doctor.id not in asked), None)
            if best is None:  # nobody left to ask: back to the coordination, which is told once
                hand_back(session, base_url, territory, request, len(asked), now)
                session.commit()
                continue
            try:
                offer_to_doctors(session, settings, base_url, AUTOMATIC, request, [best], automatic=True, now=now)
                session.commit()
                made += 1
            except (IntegrityError, Conflict):  # another worker offered it first
                session.rollback()
    return made


def hand_back(
    session: Session, base_url: str, territory: Territory, request: PatientRequest, asked: int, now: datetime
) -> bool:
    """The automatic mode found no further doctor for this request (each asked declined or let
    the delay pass, or none is eligible): the request goes back to the coordination's queue,
    marked « Aucun médecin disponible : à reprendre », and the CPTS's coordinators get one
    e-mail naming the request by its number and link only (no patient data in a mail). Once per
    request, even with two workers: the UPDATE checks the mark is not set yet. False when it
    already was."""
    marked = execute_dml(
        session,
        update(PatientRequest)
        .where(PatientRequest.id == request.id, PatientRequest.no_doctor_left_at.is_(None))
        .values(no_doctor_left_at=now)
        .execution_options(synchronize_session=False),
    ).rowcount
    if marked != 1:
        return False
    from app.accounts.service import coordinators_of

    session.add(
        RequestEvent(
            request_id=request.id,
            actor=AUTOMATIC.email,
            kind="note",
            text=(
                f"Aucun médecin disponible après {asked} proposition(s) automatique(s) : "
                "rendue à la coordination, à reprendre."
            ),
        )
    )
    link = f"{base_url.rstrip('/')}/espace/demandes/{request.id}"
    recipients = coordinators_of(session, territory.id)
    for email in recipients:
        subject, body = render(
            "no_doctor_left", "email", request_id=request.id, link=link, asked=asked, **_territory_context(territory)
        )
        enqueue(
            session,
            kind="no_doctor_left",
            channel="email",
            recipient=email,
            subject=subject,
            body=body,
            territory_id=territory.id,
        )
    logger.info(
        "automatic_offers_no_doctor_left",
        extra={"request_id": request.id, "territory_id": territory.id, "recipients": len(recipients)},
    )
    return True


def remind_unanswered(session: Session, settings: Settings, now: datetime) -> int:
    """One reminder to each doctor who has not answered an offer OFFER_REMINDER_AFTER_HOURS
    after it was made, while the offer is still open: the same link (still valid until
    the offer's delay), by the same channels as the offer, through the outbox. Once: the UPDATE
    sets `reminded_at` only while the offer is pending, unreminded and not past its delay, so a
    second run or a second worker sends nothing again, and an answered, withdrawn or lapsed offer
    gets none. Commits each reminder with its messages. How many offers were reminded."""
    hours = settings.offer_reminder_after_hours
    if not hours:
        return 0
    due = repository.offers_to_remind(session, now - timedelta(hours=hours), now)
    if due and not settings.public_url:  # no address for the link (as the automatic mode)
        logger.warning("offer_reminders_need_public_url")
        return 0
    base_url = str(settings.public_url).rstrip("/")
    reminded = 0
    for offer in due:
        claimed = execute_dml(
            session,
            update(DoctorOffer)
            .where(
                DoctorOffer.id == offer.id,
                DoctorOffer.status == OfferStatus.PENDING.value,
                DoctorOffer.reminded_at.is_(None),
                DoctorOffer.expires_at > now,
            )
            .values(reminded_at=now)
            .execution_options(synchronize_session=False),
        ).rowcount
        doctor = doctors_repository.get_unscoped(session, offer.doctor_id) if claimed == 1 else None
        if doctor is None:  # answered, withdrawn or reminded by another worker meanwhile
            continue
        left = max(1, round((offer.expires_at - now).total_seconds() / 3600))
        _tell_doctor(session, "offer_reminder", doctor, offer, link=offer_url(settings, base_url, offer), hours=left)
        session.commit()
        reminded += 1
    return reminded


def set_automatic(session: Session, principal: Principal, territory_id: int | None, on: bool) -> None:
    """Switches the automatic offers of a CPTS the caller works in."""
    ensure(principal, Action.OFFER_PATIENT)
    territory = territories_repository.get(session, territory_id) if territory_id is not None else None
    if territory is None or not may_act_in(principal, territory.id):
        raise Forbidden("Choisissez d'abord la CPTS.")
    territory.auto_offers_since = (territory.auto_offers_since or utcnow()) if on else None
    action = "territory.auto_offers_on" if on else "territory.auto_offers_off"
    record(session, principal, action, "territory", territory.id, territory.id)

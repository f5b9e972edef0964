"""Médecin traitant requests: intake, the queue, the workflow, the suggestions."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from app.accounts.access import scoped
from app.accounts.policy import Action, credits_organisation, ensure, submitter_kind
from app.accounts.principal import Principal
from app.accounts.security import digest, new_secret
from app.audit.service import record, record_now
from app.core.database import Reads, execute_dml, utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.doctors import repository as doctors_repository
from app.doctors.models import Doctor
from app.geocoding.service import GeocodingService, Placement
from app.privacy.consent import accepted_consent_version
from app.requests import repository
from app.requests.models import OPEN_STATUSES, PatientRequest, RequestEvent, RequestStatus, Source
from app.requests.priority import css_or_ame_of, day_in_paris, is_70_or_more
from app.requests.ranking import Ranking, rank_doctors
from app.requests.receipts import enqueue_receipt
from app.requests.repository import OPEN_VALUES
from app.requests.schemas import NoteIn, RequestCreate, RequestOut, RequestSummary, TransitionIn
from app.requests.sources import credited
from app.territories import repository as territories_repository
from app.territories.communes import normalize_name
from app.territories.models import Territory
from app.territories.residency import Residency, TerritoryMap, place_commune

# The close reason of a request merged into another one of the same patient.
DUPLICATE = "duplicate"

# Which status may follow which (anything else is a 409).
TRANSITIONS = {
    RequestStatus.RECEIVED: {RequestStatus.PROPOSED, RequestStatus.CLOSED},
    RequestStatus.PROPOSED: {RequestStatus.MATCHED, RequestStatus.CLOSED},
}


def identity_key(family_name: str, given_name: str, birth_date: date) -> str:
    text = f"{normalize_name(family_name)}|{normalize_name(given_name)}|{birth_date.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _actor(principal: Principal | None, data: RequestCreate | None = None) -> str:
    return principal.email if principal else (data.submitted_by if data else "patient")


def _submitter(principal: Principal | None, data: RequestCreate) -> tuple[str, int | None]:
    """Who submits: the patient or a relative (no account), a professional or a
    coordinator (signed in), who attest that the patient agreed."""
    if principal is None:
        if data.submitted_by not in ("patient", "relative"):
            raise Forbidden("Connectez-vous pour déposer une demande pour un patient.")
        return data.submitted_by, None
    ensure(principal, Action.SUBMIT_REQUEST, "Votre rôle ne permet pas de déposer une demande.")
    if not data.patient_consent_attested:
        message = "Confirmez que le patient a donné son accord."
        raise Unprocessable(message, fields=[FieldError(field="patient_consent_attested", message=message)])
    return submitter_kind(principal), principal.user_id


def retired_flyer(session: Session, source_tag: str | None) -> Source | None:
    """The source a QR code names, when its campaign has ended (public: the tag is on the flyer)."""
    source = repository.source_by_tag(session, source_tag) if source_tag else None
    return source if source is not None and source.retired_at is not None else None


def intake_territory(
    session: Session, cpts: str | None, source_tag: str | None, professional_id: int | None = None
) -> tuple[Territory | None, Source | None]:
    """The CPTS whose form or source it came through, and that source: the flyer's (by tag), or
    the organisation (pharmacy, practice…) of the professional who submits; else the CPTS the
    form names (by slug)."""
    source = None
    if source_tag:
        source = repository.source_by_tag(session, source_tag)
    elif professional_id is not None:
        source = repository.organisation_of(session, professional_id)
    if source is not None:  # a retired source still names its CPTS, and is credited nothing
        return source.territory, credited(source)
    if cpts:
        return territories_repository.get_by_slug(session, cpts, with_communes=False), None
    return None, None


# Built once: the values go as parameters, so each call reuses the compiled statement. A second
# open request of the same person in the CPTS (the partial unique index) inserts nothing: the
# same person submitted twice at the same instant, the other one won.
def _insert_request_statement(dialect_insert: Any) -> Any:
    table = PatientRequest.__table__
    return (
        dialect_insert(table)
        .on_conflict_do_nothing(
            index_elements=[table.c.territory_id, table.c.identity_key],
            index_where=text("status IN ('received', 'proposed')"),
        )
        .returning(table.c.id)
    )


_INSERT_REQUEST = {
    "postgresql": _insert_request_statement(pg_insert),
    "sqlite": _insert_request_statement(sqlite_insert),
}
_INSERT_EVENT = insert(RequestEvent.__table__)


def submit_request(
    session: Session,
    geocoding: GeocodingService,
    principal: Principal | None,
    data: RequestCreate,
    public_url: str,
    *,
    retry: bool = True,
) -> tuple[PatientRequest, bool, str]:
    """Returns (request, is_duplicate, follow-up URL), written in the caller's transaction."""
    if data.website:  # a hidden field only robots fill in
        raise Unprocessable("Demande refusée.", fields=[FieldError(field="website", message="Laissez ce champ vide.")])
    submitted_by, user_id = _submitter(principal, data)
    accepted_consent_version(data.consent_version)  # a stale text is refused before anything is read
    placement = place_commune(session, geocoding, data.postcode, data.city, data.address, writing=True)
    key = identity_key(data.family_name, data.given_name, data.birth_date)
    # The residency rule's CPTS and the duplicate check's open requests, in one query.
    serving, open_requests = repository.serving_and_open_requests(
        session, placement.commune.insee, placement.commune.parent_insee, key, data.birth_date, data.phone
    )
    residency = Residency(placement, TerritoryMap(serving).serving(placement.commune))
    commune, point = residency.placement.commune, residency.placement.location
    form_territory, source = intake_territory(
        session, data.cpts, data.source, user_id if credits_organisation(submitted_by) else None
    )
    territory = residency.territory or form_territory
    by = source.name if source is not None and credits_organisation(submitted_by) else None  # in the receipt
    status = RequestStatus.RECEIVED if residency.territory else RequestStatus.OUT_OF_TERRITORY
    token = new_secret()

    duplicate_of_id = None
    if residency.territory is not None:
        # Read with the residency, ids only: a new person (nearly everybody) costs no query of its own.
        same_person, same_phone = _same_person_or_phone(open_requests.get(residency.territory.id))
        if same_person is not None:
            # Locked first: of several resubmissions at once (the same person twice at the same
            # instant), one at a time, rather than each holding a key lock on the row (its outbox
            # message) while waiting to update it: a deadlock on PostgreSQL.
            existing = session.get_one(PatientRequest, same_person, with_for_update={"of": PatientRequest})
            _update_answers(existing, data, residency.placement, token)
            existing.events.append(
                RequestEvent(
                    user_id=user_id,
                    actor=_actor(principal, data),
                    kind="note",
                    text="Nouvelle demande du même patient : ses réponses et coordonnées sont mises à jour.",
                )
            )
            # The receipt again: its new follow-up link replaces the one sent the first time.
            _acknowledge(session, existing.id, residency.territory, data, follow_up_url(public_url, token), by)
            record_now(
                session,
                principal,
                "request.resubmit",
                "patient_request",
                existing.id,
                existing.territory_id,
                actor=_actor(None, data),
            )
            return existing, True, follow_up_url(public_url, token)
        duplicate_of_id = same_phone

    now = utcnow()
    territory_id = territory.id if territory else None
    channel = data.preferred_channel or "phone"  # decided by the schema from the number
    values = dict(
        territory_id=territory_id,
        source_id=source.id if source else None,
        status=status.value,
        family_name=data.family_name.strip(),
        given_name=data.given_name.strip(),
        birth_date=data.birth_date,
        phone=data.phone,
        email=str(data.email) if data.email else None,
        address=data.address,
        postcode=data.postcode,
        insee_code=commune.insee,
        commune_name=commune.name,
        latitude=point.latitude if point else None,
        longitude=point.longitude if point else None,
        precision=point.precision if point else None,
        ald=data.ald,
        **css_answers(data),
        aged_70_or_more=is_70_or_more(data.birth_date, day_in_paris(now)),  # at intake: the indicators'
        needs_home_visits=data.needs_home_visits,
        no_doctor_reason=data.no_doctor_reason,
        preferred_channel=channel,
        languages=data.languages,
        comment=data.comment,
        consent_at=now,
        consent_version=accepted_consent_version(data.consent_version),
        submitted_by=submitted_by,
        submitted_by_user_id=user_id,
        identity_key=key,
        duplicate_of_id=duplicate_of_id,
        follow_up_token_hash=digest(token),
        created_at=now,
        updated_at=now,
    )
    # Plain inserts, not the ORM's unit of work: this is the busiest write of the service
    # (the scale benchmark in docs/benchmarks.md), and there is nothing to track.
    request_id: int | None = session.execute(_INSERT_REQUEST[session.get_bind().dialect.name], values).scalar()
    if request_id is None:
        # The same person submitted twice at the same instant: the other one won; this one is
        # a resubmission. Once: if the winner cannot be found, it would fail again, forever.
        if not retry:
            raise Conflict("Une demande est déjà en cours pour cette personne : réessayez dans un instant.")
        return submit_request(session, geocoding, principal, data, public_url, retry=False)
    events = [
        {
            "request_id": request_id,
            "user_id": user_id,
            "actor": _actor(principal, data),
            "kind": "status",
            "to_status": status.value,
            "text": None,
        }
    ]
    if duplicate_of_id is not None:
        events.append(
            {
                "request_id": duplicate_of_id,
                "user_id": user_id,
                "actor": _actor(principal, data),
                "kind": "note",
                "to_status": None,
                "text": f"Possible doublon : la demande n° {request_id} a le même téléphone et la même date "
                "de naissance.",
            }
        )
    session.execute(_INSERT_EVENT, events)  # both in one statement
    record_now(  # plain INSERTs: the busiest write of the service
        session,
        principal,
        "request.create",
        "patient_request",
        request_id,
        territory_id,
        actor=_actor(None, data),
    )
    # Outside every CPTS, the page said we cannot help; a possible duplicate's phone already
    # had its receipt (the patient's other request): nothing is sent for it.
    if residency.territory is not None and duplicate_of_id is None:
        _acknowledge(session, request_id, residency.territory, data, follow_up_url(public_url, token), by)
    # What was stored, detached: its CPTS and source are already at hand, nothing to reload.
    request = PatientRequest(id=request_id, territory=territory, source=source, **values)
    make_transient_to_detached(request)
    return request, False, follow_up_url(public_url, token)


def submission_message(request: PatientRequest, duplicate: bool, intake_cpts: str | None) -> str:
    """What the person who submitted reads, in plain French."""
    territory = request.territory
    if request.status == RequestStatus.OUT_OF_TERRITORY or territory is None:
        where = f"de la {territory.name}" if territory else "des CPTS de ce service"
        return (
            f"{request.commune_name} ne fait pas partie du territoire {where}. Votre demande est "
            "enregistrée, mais nous ne pouvons pas vous orienter : adressez-vous à la CPAM ou à la "
            "CPTS de votre commune."
        )
    text = f"Merci {request.given_name}, votre demande est enregistrée par la {territory.name}."
    if duplicate:
        text = f"{request.given_name}, vous aviez déjà une demande en cours : nous avons mis à jour vos coordonnées."
    elif intake_cpts and intake_cpts != territory.slug:
        text += f" Votre commune, {request.commune_name}, dépend de cette CPTS : la demande lui est transmise."
    return text + " Vous pouvez suivre son avancement avec votre lien personnel."


def _same_person_or_phone(open_requests: repository.OpenRequests | None) -> tuple[int | None, int | None]:
    """(the open request of the same person, the open request of the same phone and birth
    date) in the CPTS, as read with the residency. The same person: the same normalised names
    and birth date. The same phone and birth date under other names is only possibly the same
    person (a typo, a maiden name; or twins sharing a parent's phone): the coordinator decides."""
    if open_requests is None:
        return None, None
    # Linked to the first of them, never to a request that is itself a possible duplicate.
    same_phone = next((id_ for id_, duplicate_of_id in open_requests.same_phone if duplicate_of_id is None), None)
    return open_requests.same_person, same_phone


def css_answers(data: RequestCreate) -> dict[str, str]:
    """The two answers as stored, with the one the priority rule reads (priority.css_or_ame_of).
    A client still sending the one question before the two (`css_or_ame`, both others unknown)
    has it kept as it is: its "yes" is "CSS or AME, unknown which"."""
    if data.css == data.ame == "unknown" and data.css_or_ame is not None:
        return {"css": "unknown", "ame": "unknown", "css_or_ame": data.css_or_ame}
    return {"css": data.css, "ame": data.ame, "css_or_ame": css_or_ame_of(data.css, data.ame)}


def _update_answers(request: PatientRequest, data: RequestCreate, placement: Placement, token: str) -> None:
    """A second submission of the same person: its answers are the newer, they replace the
    earlier ones (the request keeps its place in the queue)."""
    request.phone = data.phone
    if data.email:
        request.email = str(data.email)
    if data.address:
        request.address = data.address
    commune, point = placement.commune, placement.location
    if point is not None or commune.insee != request.insee_code:
        request.postcode, request.insee_code, request.commune_name = data.postcode, commune.insee, commune.name
        request.latitude = point.latitude if point else None
        request.longitude = point.longitude if point else None
        request.precision = point.precision if point else None
    request.ald = data.ald
    for name, value in css_answers(data).items():
        setattr(request, name, value)
    request.needs_home_visits = data.needs_home_visits
    request.no_doctor_reason = data.no_doctor_reason
    request.languages = data.languages
    if data.comment:
        request.comment = data.comment
    request.preferred_channel = data.preferred_channel or "phone"
    # Submitting again is agreeing again, to the text shown this time.
    request.consent_at = utcnow()
    request.consent_version = accepted_consent_version(data.consent_version)
    # Only the hash of a follow-up token is kept: a resubmission gets a new link.
    request.follow_up_token_hash = digest(token)
    request.updated_at = utcnow()


def _acknowledge(
    session: Session, request_id: int, territory: Territory, data: RequestCreate, link: str, by: str | None
) -> None:
    """The receipt, in the transaction of the request: committed together or not at all."""
    enqueue_receipt(
        session,
        request_id=request_id,
        territory=territory,
        given_name=data.given_name.strip(),
        preferred_channel=data.preferred_channel or "phone",
        phone=data.phone,
        email=str(data.email) if data.email else None,
        follow_up_url=link,
        submitted_by=by,
    )


def by_follow_up_link(session: Session, token: str) -> PatientRequest | None:
    """The request a patient's private follow-up link names (only its hash is stored)."""
    return repository.by_follow_up_token(session, digest(token))


def follow_up_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/suivi/{token}"


def get_request(session: Session, principal: Principal, request_id: int) -> PatientRequest:
    request = session.scalars(scoped(PatientRequest, principal).where(PatientRequest.id == request_id)).one_or_none()
    if request is None:
        raise NotFound("Demande introuvable.")
    return request


def request_out(request: PatientRequest) -> RequestOut:
    return RequestOut.from_row(request, day_in_paris())


@dataclass(frozen=True)
class QueuePage:
    items: list[RequestSummary]
    total: int
    read: list[tuple[object, int | None]]  # (request, CPTS) of the rows shown: the audit trail's reads


@dataclass(frozen=True)
class WaitingAlert:
    """An open request waiting more than `days` days (WAITING_ALERT_DAYS) is highlighted: the
    days are the queue's (`days_waiting`, calendar days since it was received)."""

    days: int
    today: date

    @property
    def received_before(self) -> datetime:
        """Received before this instant: waiting more than `days` days on `today`."""
        return datetime.combine(self.today - timedelta(days=self.days), time(), UTC)

    def applies(self, summary: RequestSummary) -> bool:
        return summary.status in OPEN_VALUES and summary.days_waiting > self.days


def waiting_alert(days: int, today: date | None = None) -> WaitingAlert:
    return WaitingAlert(days, today or day_in_paris())


def count_waiting_too_long(session: Session, principal: Principal, cpts: str | None, alert: WaitingAlert) -> int:
    """Open requests of the queue (possible duplicates folded) waiting more than the alert's days."""
    filters = repository.QueueFilters(cpts=cpts, received_before=alert.received_before)
    return repository.queue_page(session, principal, filters, 1, 1, alert.today)[1]


def queue(
    session: Session, principal: Principal, filters: repository.QueueFilters, page: int, per_page: int
) -> QueuePage:
    """One page of the queue the caller may see, most urgent first, as read today (Paris day)."""
    today = day_in_paris()
    rows, total = repository.queue_page(session, principal, filters, page, per_page, today)
    ids = [r.id for r in rows]
    flagged = repository.flagged_as_duplicated(session, principal, ids)
    handed_back = repository.handed_back(session, principal, ids)
    return QueuePage(
        [
            RequestSummary.from_row(r, today, possible_duplicate=r.id in flagged, no_doctor_left=r.id in handed_back)
            for r in rows
        ],
        total,
        [(r.id, r.territory_id) for r in rows],
    )


def transition(session: Session, principal: Principal, request_id: int, data: TransitionIn) -> PatientRequest:
    ensure(principal, Action.HANDLE_REQUESTS, "Seul un coordinateur fait avancer une demande.")
    request = get_request(session, principal, request_id)
    current, target = RequestStatus(request.status), RequestStatus(data.to)
    if target not in TRANSITIONS.get(current, set()):  # before taking a place from a doctor
        raise Conflict(f"Transition impossible : {current.value} → {target.value}.")
    values: dict[str, object] = {}
    doctor = None
    if target is RequestStatus.CLOSED:
        if data.reason is None:
            raise Unprocessable(
                "Motif de clôture requis.", fields=[FieldError(field="reason", message="Motif requis.")]
            )
        values["close_reason"] = data.reason
    if target is RequestStatus.MATCHED:
        doctor = _matching_doctor(session, principal, request, data.doctor_id)
        if not doctors_repository.take_place(session, doctor.id):
            raise Conflict("Ce médecin n'a plus de place disponible.")
        values["matched_doctor_id"] = doctor.id
    move(session, principal, request, target, note=data.note, reason=data.reason, **values)
    if target in (RequestStatus.MATCHED, RequestStatus.CLOSED):
        from app.requests.offers import withdraw_pending

        withdraw_pending(session, request)  # the doctors still asked are told it is settled
    # A duplicate's patient has the other request: telling them "closed" would be false.
    if data.notify and target in (RequestStatus.MATCHED, RequestStatus.CLOSED) and data.reason != DUPLICATE:
        from app.requests.messages import enqueue_outcome

        enqueue_outcome(session, request, target, doctor, data.reason)
    record(session, principal, f"request.{target.value}", "patient_request", request.id, request.territory_id)
    session.flush()  # before forgetting what was loaded: the reload reads what was written
    session.expire_all()
    return get_request(session, principal, request_id)


def move(
    session: Session,
    principal: Principal,
    request: PatientRequest,
    target: RequestStatus,
    *,
    note: str | None = None,
    reason: str | None = None,
    **values: object,
) -> None:
    """Changes the status in the caller's transaction, with its event. The current status is
    checked again in the UPDATE: of two coordinators acting at once, one wins, the other 409."""
    current = RequestStatus(request.status)
    if target not in TRANSITIONS.get(current, set()):
        raise Conflict(f"Transition impossible : {current.value} → {target.value}.")
    changed = execute_dml(
        session,
        update(PatientRequest)
        .where(PatientRequest.id == request.id, PatientRequest.status == current.value)
        .values(status=target.value, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False),
    ).rowcount
    if changed != 1:
        raise Conflict("La demande a changé entre-temps : rechargez-la.")
    session.add(
        RequestEvent(
            request_id=request.id,
            user_id=principal.user_id,
            actor=principal.email,
            kind="status",
            from_status=current.value,
            to_status=target.value,
            reason=reason,
            doctor_id=values.get("matched_doctor_id"),
            text=note,
        )
    )


def _matching_doctor(session: Session, principal: Principal, request: PatientRequest, doctor_id: int | None) -> Doctor:
    if doctor_id is None:
        raise Unprocessable(
            "Médecin requis.", fields=[FieldError(field="doctor_id", message="Le médecin qui accepte.")]
        )
    doctor = doctors_repository.get_visible(session, principal, doctor_id)
    if doctor is None or doctor.territory_id != request.territory_id:
        raise Unprocessable(
            "Médecin inconnu dans cette CPTS.",
            fields=[FieldError(field="doctor_id", message="Médecin inconnu dans cette CPTS.")],
        )
    return doctor


def possible_duplicates(session: Session, principal: Principal, request: PatientRequest) -> list[PatientRequest]:
    """The open requests flagged as possibly the same patient as this one."""
    return list(
        session.scalars(
            scoped(PatientRequest, principal)
            .where(PatientRequest.duplicate_of_id == request.id, PatientRequest.status.in_(OPEN_STATUSES))
            .order_by(PatientRequest.id)
        )
    )


def possibly_duplicated(session: Session, principal: Principal, request: PatientRequest) -> PatientRequest | None:
    """The open request this open one may duplicate, if the caller may see it."""
    if request.duplicate_of_id is None or request.status not in OPEN_STATUSES:
        return None
    return session.scalars(
        scoped(PatientRequest, principal).where(PatientRequest.id == request.duplicate_of_id)
    ).one_or_none()


def _flagged_pair(session: Session, principal: Principal, request_id: int) -> tuple[PatientRequest, PatientRequest]:
    ensure(principal, Action.HANDLE_REQUESTS, "Seul un coordinateur traite les doublons.")
    duplicate = get_request(session, principal, request_id)
    if duplicate.duplicate_of_id is None:
        raise Conflict("Cette demande n'est signalée comme doublon d'aucune autre.")
    return duplicate, get_request(session, principal, duplicate.duplicate_of_id)


def _note(principal: Principal, request_id: int, text: str) -> RequestEvent:
    return RequestEvent(request_id=request_id, user_id=principal.user_id, actor=principal.email, kind="note", text=text)


def merge_duplicate(session: Session, principal: Principal, request_id: int) -> PatientRequest:
    """Closes a possible duplicate into the request it duplicates, as "doublon". Nothing is
    sent to the patient: the other request goes on. Returns the request kept."""
    duplicate, kept = _flagged_pair(session, principal, request_id)
    move(
        session,
        principal,
        duplicate,
        RequestStatus.CLOSED,
        reason=DUPLICATE,
        note=f"Doublon fusionné dans la demande n° {kept.id}.",
        close_reason=DUPLICATE,
    )
    session.add(_note(principal, kept.id, f"La demande n° {duplicate.id}, doublon de celle-ci, y est fusionnée."))
    for request in (duplicate, kept):
        record(session, principal, "request.merge", "patient_request", request.id, request.territory_id)
    session.flush()  # the notes' ids and times, for the answer
    return kept


def dismiss_duplicate(session: Session, principal: Principal, request_id: int) -> PatientRequest:
    """Not the same patient after all: the request becomes a queue row of its own."""
    duplicate, other = _flagged_pair(session, principal, request_id)
    duplicate.duplicate_of_id = None
    duplicate.updated_at = utcnow()
    session.add(_note(principal, duplicate.id, f"Pas un doublon de la demande n° {other.id}."))
    session.add(_note(principal, other.id, f"La demande n° {duplicate.id} n'est pas un doublon de celle-ci."))
    record(session, principal, "request.not_duplicate", "patient_request", duplicate.id, duplicate.territory_id)
    session.flush()  # the notes' ids and times, for the answer
    return duplicate


def add_note(session: Session, principal: Principal, request_id: int, data: NoteIn) -> PatientRequest:
    ensure(principal, Action.HANDLE_REQUESTS, "Seul un coordinateur annote une demande.")
    request = get_request(session, principal, request_id)
    request.events.append(RequestEvent(user_id=principal.user_id, actor=principal.email, kind="note", text=data.text))
    record(session, principal, "request.note", "patient_request", request.id, request.territory_id)
    session.flush()  # the note's id and time, for the answer
    return request


def suggestions(reads: Reads, principal: Principal, request_id: int) -> tuple[PatientRequest, Ranking]:
    """The request, read on the primary (it may have just been made), and the doctors ranked
    for it, read from the replica when one is configured (READ_DATABASE_URL)."""
    request = get_request(reads.primary, principal, request_id)
    if request.territory_id is None or request.status == RequestStatus.OUT_OF_TERRITORY:
        return request, Ranking([], [], 0)
    from app.requests.offers import load_of_doctors

    cards = doctors_repository.cards_of_doctors_with_places(reads.session, request.territory_id)
    load = load_of_doctors(reads.session, principal, request.territory_id)
    return request, rank_doctors(request, cards, load=load)

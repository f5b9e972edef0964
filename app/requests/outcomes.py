"""Closing the loop: did the orientation end with a médecin traitant?

- Some days after the match (FOLLOW_UP_CONFIRMATION_DAYS, 21 by default) the patient is asked,
  by the receipt's channel (app/requests/receipts.py), whether the first appointment took place
  and whether the doctor declared them as médecin traitant: two taps on the follow-up page
  (app/web/follow_up.py), no sign-in. A landline without an e-mail is marked "à appeler" for
  the coordination instead. Asking is recorded on the request (`confirmation_asked_at`) by a
  conditional update in the transaction that writes the message: of two workers, one asks.
- From SATISFACTION_DATE (MM-DD, Paris) each year, a short questionnaire goes to every patient
  matched that year; one `SatisfactionSurvey` per request and year (unique) makes it once. The
  answers are stored without the request (`SatisfactionAnswer`: CPTS, year, three choices).

The worker (app/notifications/outbox.py, `outcomes_if_due`) calls `run` with its clock; the
follow-up page calls `confirm` and `answer_survey` in the request's transaction."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.accounts.security import digest, new_secret
from app.audit.service import record
from app.core.database import execute_dml
from app.core.identifiers import french_phone
from app.core.settings import Settings
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.requests import repository
from app.requests.models import PatientRequest, RequestEvent, RequestStatus, SatisfactionAnswer, SatisfactionSurvey
from app.requests.receipts import receipt_channel
from app.requests.service import follow_up_url

logger = logging.getLogger(__name__)
PARIS = ZoneInfo("Europe/Paris")
BATCH = 200
PHONE = "phone"  # no written channel: the coordination calls

# The questionnaire's choices, in the order shown: value → French.
SATISFACTION = {
    "very": "Très satisfait(e)",
    "rather": "Plutôt satisfait(e)",
    "little": "Peu satisfait(e)",
    "not": "Pas satisfait(e)",
}
DELAY = {"short": "Court", "fair": "Raisonnable", "long": "Trop long"}
RECOMMEND = {"yes": "Oui", "no": "Non"}


@dataclass
class RunCounts:
    confirmations_asked: int = 0
    confirmations_to_call: int = 0
    surveys_sent: int = 0


def _base_url(settings: Settings) -> str | None:
    return (settings.public_url or "").rstrip("/") or None


def _new_link(request: PatientRequest, base: str) -> str:
    """A fresh follow-up link for this message (only its hash kept); the receipt's still works."""
    token = new_secret()
    request.answer_link_hash = digest(token)
    return follow_up_url(base, token)


def _message_context(request: PatientRequest) -> dict[str, object]:
    territory = request.territory
    return {
        "given_name": request.given_name,
        "territory": territory.name if territory else "CPTS",
        "territory_phone": (french_phone(territory.phone) or None) if territory else None,
    }


def _ask_confirmation(session: Session, request_id: int, base: str, now: datetime) -> str | None:
    """Asks one request, in its own transaction; the channel used, or None if another worker
    (or an earlier run) asked already."""
    request = session.get(PatientRequest, request_id)
    if request is None or request.erased_at is not None:
        return None
    reach = receipt_channel(request.preferred_channel, request.phone, request.email)
    channel = reach[0] if reach else PHONE
    taken = execute_dml(
        session,
        update(PatientRequest)
        .where(PatientRequest.id == request_id, PatientRequest.confirmation_asked_at.is_(None))
        .values(confirmation_asked_at=now, confirmation_channel=channel)
        .execution_options(synchronize_session=False),
    ).rowcount
    if not taken:
        session.rollback()
        return None
    if reach is not None:
        subject, body = render(
            "first_visit", channel, follow_up_url=_new_link(request, base), **_message_context(request)
        )
        enqueue(
            session,
            kind="first_visit",
            channel=channel,
            recipient=reach[1],
            subject=subject,
            body=body,
            territory_id=request.territory_id,
            request_id=request.id,
            now=now,  # due by the worker's clock
        )
    session.commit()
    return channel


def ask_confirmations(session: Session, settings: Settings, now: datetime, counts: RunCounts) -> None:
    base = _base_url(settings)
    if base is None:
        logger.warning("follow_up_confirmation_needs_public_url")
        return
    matched_before = now - timedelta(days=settings.follow_up_confirmation_days)
    while ids := repository.due_for_confirmation(session, matched_before, BATCH):
        for request_id in ids:
            channel = _ask_confirmation(session, request_id, base, now)
            if channel == PHONE:
                counts.confirmations_to_call += 1
            elif channel is not None:
                counts.confirmations_asked += 1
        if len(ids) < BATCH:
            break


def survey_start(settings: Settings, now: datetime) -> datetime | None:
    """This year's questionnaire day (Paris) if it has come, else None."""
    if not settings.satisfaction_date:
        return None
    today = now.astimezone(PARIS).date()
    month, day = (int(part) for part in settings.satisfaction_date.split("-"))
    try:
        start = date(today.year, month, day)
    except ValueError:  # 29 February in a common year
        start = date(today.year, 3, 1)
    return datetime.combine(start, time(), PARIS) if today >= start else None


def send_surveys(session: Session, settings: Settings, now: datetime, counts: RunCounts) -> None:
    base = _base_url(settings)
    if survey_start(settings, now) is None or base is None:
        return
    year = now.astimezone(PARIS).year
    year_start = datetime(year, 1, 1, tzinfo=PARIS)
    year_end = datetime(year + 1, 1, 1, tzinfo=PARIS)
    while ids := repository.helped_without_survey(session, year_start, year_end, year, BATCH):
        for request_id in ids:
            request = session.get(PatientRequest, request_id)
            if request is None:
                continue
            reach = receipt_channel(request.preferred_channel, request.phone, request.email)
            if reach is None:  # nobody to write to: recorded all the same, never picked again
                session.add(SatisfactionSurvey(request_id=request_id, year=year, channel=PHONE, sent_at=now))
            else:
                channel, recipient = reach
                session.add(SatisfactionSurvey(request_id=request_id, year=year, channel=channel, sent_at=now))
                subject, body = render(
                    "satisfaction", channel, follow_up_url=_new_link(request, base), **_message_context(request)
                )
                enqueue(
                    session,
                    kind="satisfaction",
                    channel=channel,
                    recipient=recipient,
                    subject=subject,
                    body=body,
                    territory_id=request.territory_id,
                    request_id=request.id,
                    now=now,  # due by the worker's clock
                )
            try:
                session.commit()
            except IntegrityError:  # another worker recorded this one first: it sends it
                session.rollback()
                continue
            if reach is not None:
                counts.surveys_sent += 1
        if len(ids) < BATCH:
            break


def run(session: Session, settings: Settings, now: datetime) -> RunCounts:
    """Asks the confirmations due and sends this year's questionnaires once their day has come.
    Commits one request at a time (its record with its message)."""
    counts = RunCounts()
    ask_confirmations(session, settings, now, counts)
    send_surveys(session, settings, now, counts)
    if counts.confirmations_asked or counts.confirmations_to_call or counts.surveys_sent:
        logger.info("follow_up_outcomes_run", extra=counts.__dict__)
    return counts


# The follow-up page's answers ------------------------------------------------------------------


def may_confirm(request: PatientRequest) -> bool:
    """Matched (and not erased): the patient can say the first appointment took place."""
    return request.status == RequestStatus.MATCHED and request.erased_at is None


CONFIRMED_TEXT = {
    "first_visit": "Premier rendez-vous confirmé par le patient depuis son lien de suivi.",
    "declared": "Déclaration de médecin traitant confirmée par le patient depuis son lien de suivi.",
}
# A patient reached by phone (a landline): the coordination notes what they said.
CONFIRMED_BY_PHONE_TEXT = {
    "first_visit": "Premier rendez-vous confirmé par le patient au téléphone.",
    "declared": "Déclaration de médecin traitant confirmée par le patient au téléphone.",
}


def confirm(
    session: Session,
    request: PatientRequest,
    what: str,
    now: datetime,
    client_address: str | None,
    principal: Principal | None = None,
) -> bool:
    """`first_visit` or `declared` (which implies the first appointment), in the request's
    history and the audit trail: said by the patient on the follow-up page, or on the phone
    to the coordination (`principal`, who read `request` through visibility). False: nothing
    new (already said, or not matched)."""
    if what not in CONFIRMED_TEXT or not may_confirm(request):
        return False
    if what == "first_visit" and request.first_visit_confirmed_at is not None:
        return False
    if what == "declared" and request.declared_confirmed_at is not None:
        return False
    if request.first_visit_confirmed_at is None:
        request.first_visit_confirmed_at = now
    if what == "declared":
        request.declared_confirmed_at = now
    request.updated_at = now
    texts, actor = (CONFIRMED_TEXT, "patient") if principal is None else (CONFIRMED_BY_PHONE_TEXT, principal.email)
    session.add(
        RequestEvent(
            request_id=request.id,
            at=now,
            user_id=principal.user_id if principal else None,
            actor=actor,
            kind="note",
            text=texts[what],
        )
    )
    record(
        session,
        principal,
        f"request.confirm_{what}",
        "patient_request",
        request.id,
        request.territory_id,
        actor="patient" if principal is None else None,
        client_address=client_address,
    )
    return True


def open_survey(session: Session, request: PatientRequest, now: datetime) -> SatisfactionSurvey | None:
    """This year's questionnaire of this request, if sent and not answered."""
    return repository.survey_of(session, request.id, now.astimezone(PARIS).year)


def answer_survey(
    session: Session, request: PatientRequest, survey: SatisfactionSurvey, answers: dict[str, str], now: datetime
) -> None:
    """Stores the three choices apart from the request (anonymous); the survey is marked answered."""
    if request.territory_id is None:
        return
    survey.answered = True  # not when: the answers' order would tell whose they are
    session.add(
        SatisfactionAnswer(
            territory_id=request.territory_id,
            year=survey.year,
            satisfaction=answers["satisfaction"],
            delay=answers["delay"],
            recommend=answers["recommend"],
        )
    )

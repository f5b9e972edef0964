"""Follow-up and reporting: the export of requests, and the CPTS's indicators (ACI figures)."""

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.accounts.access import scoped, visible
from app.accounts.policy import Action, ensure
from app.accounts.principal import Principal
from app.calls.service import CallCounts, call_counts
from app.core import spreadsheet
from app.core.database import utcnow
from app.core.identifiers import french_phone
from app.doctors.models import STALE_AFTER, Doctor
from app.doctors.service import territory_for
from app.notifications.models import MessageStatus, OutboxMessage
from app.privacy.erasure import ERASED_MESSAGE_ERROR
from app.requests.models import (
    DoctorOffer,
    OfferStatus,
    PatientRequest,
    RequestEvent,
    RequestStatus,
    SatisfactionAnswer,
    Source,
)
from app.requests.outcomes import DELAY, RECOMMEND, SATISFACTION
from app.requests.priority import age_on, css_ame_split, groups_at_intake
from app.requests.repository import matched_at as first_matched_at

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Period:
    """Whole days in Europe/Paris, `until` included."""

    since: date | None = None
    until: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        start = datetime.combine(self.since, time(), PARIS) if self.since else None
        end = datetime.combine(self.until + timedelta(days=1), time(), PARIS) if self.until else None
        return start, end


def _in_period(query, period: Period):
    start, end = period.bounds()
    if start is not None:
        query = query.where(PatientRequest.created_at >= start)
    if end is not None:
        query = query.where(PatientRequest.created_at < end)
    return query


ANSWER_LABELS = {"yes": "oui", "no": "non", "unknown": "ne sait pas"}

EXPORT_COLUMNS = [
    "numéro",
    "reçue le",
    "statut",
    "motif de clôture",
    "nom",
    "prénom",
    "âge",
    "téléphone",
    "e-mail",
    "commune",
    "code INSEE",
    "code postal",
    "ALD",
    "70 ans et plus",
    "CSS/AME (priorité)",
    "CSS",
    "AME",
    "visites à domicile",
    "pourquoi sans médecin",
    "canal préféré",
    "déposée par",
    "source",
    "médecin (id)",
    "mise à jour le",
]


def export_rows(
    session: Session,
    principal: Principal,
    cpts: str | None,
    period: Period,
    statuses: list[str] | None,
    source: str | None,
) -> list[list[object]]:
    query = _in_period(scoped(PatientRequest, principal), period).order_by(PatientRequest.created_at)
    if cpts:
        territory = territory_for(session, principal, cpts)
        query = query.where(PatientRequest.territory_id == territory.id)
    if statuses:
        query = query.where(PatientRequest.status.in_(statuses))
    if source:
        query = query.where(PatientRequest.source.has(tag=source))
    today = utcnow().date()
    rows = []
    for r in session.scalars(query):
        rows.append(
            [
                r.id,
                r.created_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
                r.status,
                r.close_reason or "",
                r.family_name,
                r.given_name,
                age_on(r.birth_date, today),
                french_phone(r.phone),
                r.email or "",
                r.commune_name,
                r.insee_code,
                r.postcode,
                "oui" if r.ald else "non",
                "oui" if r.aged_70_or_more else "non",
                {"yes": "oui", "no": "non"}.get(r.css_or_ame, "?"),
                ANSWER_LABELS.get(r.css, "?"),
                ANSWER_LABELS.get(r.ame, "?"),
                "oui" if r.needs_home_visits else "non",
                r.no_doctor_reason,
                r.preferred_channel,
                r.submitted_by,
                r.source.name if r.source else "",
                r.matched_doctor_id or "",
                r.updated_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
            ]
        )
    return rows


def to_csv(rows: list[list[object]]) -> bytes:
    return spreadsheet.to_csv(EXPORT_COLUMNS, rows)


def to_xlsx(rows: list[list[object]]) -> bytes:
    return spreadsheet.to_xlsx("Demandes", EXPORT_COLUMNS, rows)


def _bounds_or_ever(period: Period) -> tuple[datetime, datetime]:
    start, end = period.bounds()
    return start or datetime(2000, 1, 1, tzinfo=PARIS), end or datetime(2100, 1, 1, tzinfo=PARIS)


def snp_activity(
    session: Session, principal: Principal, territory_id: int, period: Period
) -> dict[str, dict[str, dict[str, int]]]:
    from app.snp.repository import activity_report

    return activity_report(session, principal, territory_id, *_bounds_or_ever(period))


class CsnpRow(TypedDict):
    """FICHE 6's report of one centre or doctor (app.snp.repository.csnp_report)."""

    kind: str  # centre | doctor
    owner_id: int
    name: str
    counts: dict[str, int]  # app.snp.repository.REPORT_COLUMNS


def csnp_report(session: Session, principal: Principal, territory_id: int, period: Period) -> list[CsnpRow]:
    from app.snp.repository import csnp_report as per_owner

    return [
        {"kind": r.kind, "owner_id": r.owner_id, "name": r.name, "counts": r.counts}
        for r in per_owner(session, principal, territory_id, *_bounds_or_ever(period))
    ]


def snp_indicators(session: Session, territory_id: int, start: datetime | None, end: datetime | None) -> dict[str, int]:
    from app.snp.repository import indicators as slot_figures

    return slot_figures(
        session, territory_id, start or datetime(2000, 1, 1, tzinfo=PARIS), end or datetime(2100, 1, 1, tzinfo=PARIS)
    )


class RequestCounts(TypedDict):
    received: int
    out_of_territory: int
    proposed: int
    matched: int
    closed: dict[str, int]  # by close reason
    still_waiting: int


class DoctorCounts(TypedDict):
    volunteers: int
    accepting: int
    places_offered: int
    places_used: int
    stale: int


# The functional form: "from" is a keyword.
class Indicators(TypedDict):
    cpts: str
    period: dict[str, date | None]
    requests: RequestCounts
    received_by_group: dict[str, int]
    matched_by_group: dict[str, int]
    median_days_to_match: float | None
    # The whole way, counted in requests: received → offered → accepted → first appointment →
    # declared médecin traitant (`_funnel`).
    funnel: "Funnel"
    outcomes: "Outcomes"
    satisfaction: dict[str, dict[str, int]]
    by_commune: dict[str, int]
    by_source: dict[str, int]
    doctors: DoctorCounts
    # Offers to doctors (app/requests/offers.py) of the period's requests, by their state.
    offers: dict[str, int]
    # SMS to the patients of the period's requests: handed to the provider, then what its
    # delivery receipts said (app/notifications/delivery.py). "failed" counts the SMS refused at
    # sending too; "unknown": no receipt within SMS_RECEIPT_HOURS; "awaiting": not yet.
    sms: dict[str, int]
    unscheduled_care: dict[str, int]
    # FICHE 6: bookings, patients who came, unexcused absences, walk-ins, passages, by age band /
    # médecin traitant; and the same per centre and per doctor (the CSNP's report).
    unscheduled_care_report: dict[str, dict[str, dict[str, int]]]
    csnp_report: list[CsnpRow]
    # The calls to the CPTS's phone line (app/calls): by Paris day and hour, by each choice.
    calls: "CallCounts"


GROUPS = ("ald", "age_70", "css")
CSS_AME_KEYS = ("css_yes", "ame_yes", "css_or_ame_unknown_which")


class Outcomes(TypedDict):
    """After the match: what the patients confirmed (app/requests/outcomes.py)."""

    asked: int  # asked to confirm (in writing or "à appeler")
    to_call: int  # of which by a call of the coordination (a landline)
    first_visit: int  # first appointment confirmed
    declared: int  # declared médecin traitant
    first_visit_by_group: dict[str, int]
    declared_by_group: dict[str, int]
    median_days_match_to_first_visit: float | None
    median_days_first_visit_to_declared: float | None
    median_days_request_to_declared: float | None


class Funnel(TypedDict):
    """The period's requests (inside the territory), each counted once at each step it reached,
    however many doctors it was offered to."""

    received: int
    offered: int  # offered to at least one doctor (app/requests/offers.py)
    accepted: int  # a doctor found: through an accepted offer, or matched by the coordinator
    accepted_through_offer: int  # a doctor accepted an offer of it
    accepted_by_coordinator: int  # matched by the coordinator directly (offered or not before)
    first_visit: int  # first appointment confirmed
    declared: int  # declared médecin traitant
    offered_by_group: dict[str, int]
    accepted_by_group: dict[str, int]
    # Between consecutive steps, for the requests that reached both (days).
    median_days_received_to_offered: float | None
    median_days_offered_to_accepted: float | None
    median_days_accepted_to_first_visit: float | None
    median_days_first_visit_to_declared: float | None


def _median_days(pairs) -> float | None:
    """The median of the days between each (earlier, later) pair both known; None without any."""
    days = [(later - earlier).total_seconds() / 86400 for earlier, later in pairs if earlier and later]
    return round(statistics.median(days), 1) if days else None


def _by_group(rows: Sequence) -> dict[str, int]:
    counts: Counter[str] = Counter(g for r in rows for g in groups_at_intake(r))
    return {g: counts[g] for g in GROUPS} | {"total": len(rows)}


def _outcomes(journeys: Sequence) -> Outcomes:
    visited = [j for j in journeys if j.first_visit_confirmed_at is not None]
    declared = [j for j in journeys if j.declared_confirmed_at is not None]
    return {
        "asked": sum(j.confirmation_channel is not None for j in journeys),
        "to_call": sum(j.confirmation_channel == "phone" for j in journeys),
        "first_visit": len(visited),
        "declared": len(declared),
        "first_visit_by_group": _by_group(visited),
        "declared_by_group": _by_group(declared),
        "median_days_match_to_first_visit": _median_days((j.matched_at, j.first_visit_confirmed_at) for j in visited),
        "median_days_first_visit_to_declared": _median_days(
            (j.first_visit_confirmed_at, j.declared_confirmed_at) for j in declared
        ),
        "median_days_request_to_declared": _median_days((j.created_at, j.declared_confirmed_at) for j in declared),
    }


def _funnel(received: int, offered: Sequence, journeys: Sequence) -> Funnel:
    """`offered`: one row per request of the period offered to a doctor at least once, with its
    first offer's time; `journeys`: one row per matched request, with whether an accepted offer
    matched it. The coordinator may match a request never offered: "accepted" is not a subset
    of "offered", and the page says so."""
    through_offer = [j for j in journeys if j.through_offer]
    visited = [j for j in journeys if j.first_visit_confirmed_at is not None]
    declared = [j for j in journeys if j.declared_confirmed_at is not None]
    return {
        "received": received,
        "offered": len(offered),
        "accepted": len(journeys),
        "accepted_through_offer": len(through_offer),
        "accepted_by_coordinator": len(journeys) - len(through_offer),
        "first_visit": len(visited),
        "declared": len(declared),
        "offered_by_group": _by_group(offered),
        "accepted_by_group": _by_group(journeys),
        "median_days_received_to_offered": _median_days((o.created_at, o.first_offer_at) for o in offered),
        "median_days_offered_to_accepted": _median_days((j.first_offer_at, j.matched_at) for j in journeys),
        "median_days_accepted_to_first_visit": _median_days(
            (j.matched_at, j.first_visit_confirmed_at) for j in visited
        ),
        "median_days_first_visit_to_declared": _median_days(
            (j.first_visit_confirmed_at, j.declared_confirmed_at) for j in declared
        ),
    }


class DoctorRate(TypedDict):
    """How one doctor answered the offers made to it in the period (`doctor_rates`)."""

    doctor_id: int
    name: str
    received: int
    answered: int  # accepted + declined
    accepted: int
    declined: int
    lapsed: int  # no answer within the delay
    withdrawn: int  # settled before it answered: another doctor accepted, or the coordination
    pending: int  # still within its delay: not counted in the rates yet
    response_rate: float | None  # answered / (received − withdrawn − pending), in %
    acceptance_rate: float | None  # accepted / answered, in %
    median_response_hours: float | None  # from the offer to the answer, answered offers only


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def doctor_rates(session: Session, principal: Principal, cpts: str, period: Period) -> list[DoctorRate]:
    """Per doctor of the CPTS offered a patient in the period (by the offer's date): offers
    received, answered, accepted, declined, lapsed, withdrawn, pending; the response rate (an
    offer withdrawn before the doctor answered — another doctor was first — or still within its
    delay is not one the doctor failed to answer: both are left out of it), the acceptance rate,
    the median delay of an answer. For the coordination only (Action.READ_DOCTOR_RATES): it is
    not shown to doctors, nor to the deployment's admins."""
    ensure(principal, Action.READ_DOCTOR_RATES, "Les taux par médecin sont réservés à la coordination de la CPTS.")
    territory = territory_for(session, principal, cpts)
    query = (
        select(
            DoctorOffer.doctor_id,
            Doctor.family_name,
            Doctor.given_name,
            DoctorOffer.status,
            DoctorOffer.created_at,
            DoctorOffer.answered_at,
        )
        .join(Doctor, Doctor.id == DoctorOffer.doctor_id)
        .where(visible(DoctorOffer, principal), visible(Doctor, principal), DoctorOffer.territory_id == territory.id)
    )
    start, end = period.bounds()
    if start is not None:
        query = query.where(DoctorOffer.created_at >= start)
    if end is not None:
        query = query.where(DoctorOffer.created_at < end)
    by_doctor: dict[int, list] = {}
    names: dict[int, tuple[str, str]] = {}  # (family name, given name)
    for row in session.execute(query):
        by_doctor.setdefault(row.doctor_id, []).append(row)
        names[row.doctor_id] = (row.family_name, row.given_name)
    rates: list[DoctorRate] = []
    for doctor_id, rows in by_doctor.items():
        states = Counter(r.status for r in rows)
        accepted, declined = states[OfferStatus.ACCEPTED.value], states[OfferStatus.DECLINED.value]
        withdrawn, pending = states[OfferStatus.WITHDRAWN.value], states[OfferStatus.PENDING.value]
        answered = accepted + declined
        hours = [
            (r.answered_at - r.created_at).total_seconds() / 3600
            for r in rows
            if r.status in (OfferStatus.ACCEPTED.value, OfferStatus.DECLINED.value) and r.answered_at
        ]
        rates.append(
            {
                "doctor_id": doctor_id,
                "name": f"Dr {names[doctor_id][1]} {names[doctor_id][0]}",
                "received": len(rows),
                "answered": answered,
                "accepted": accepted,
                "declined": declined,
                "lapsed": states[OfferStatus.EXPIRED.value],
                "withdrawn": withdrawn,
                "pending": pending,
                "response_rate": _percent(answered, len(rows) - withdrawn - pending),
                "acceptance_rate": _percent(accepted, answered),
                "median_response_hours": round(statistics.median(hours), 1) if hours else None,
            }
        )
    return sorted(rates, key=lambda r: (*(n.lower() for n in names[r["doctor_id"]]), r["doctor_id"]))


def _sms_counts(rows: Sequence) -> dict[str, int]:
    counts = dict.fromkeys(("sent", "delivered", "failed", "unknown", "awaiting"), 0)
    for status, delivery, n in rows:
        if status == MessageStatus.FAILED:
            counts["failed"] += n
        elif status == MessageStatus.SENT:
            counts["sent"] += n
            if delivery in counts:
                counts[delivery] += n
    return counts


def satisfaction(session: Session, territory_id: int, period: Period) -> dict[str, dict[str, int]]:
    """The yearly questionnaires' answers of the years the period touches: question → choice →
    how many (the answers have no date but their year, and no request)."""
    years = range((period.since or date(2000, 1, 1)).year, (period.until or utcnow().date()).year + 1)
    choices = {"satisfaction": SATISFACTION, "delay": DELAY, "recommend": RECOMMEND}
    counts: dict[str, dict[str, int]] = {q: dict.fromkeys(c, 0) for q, c in choices.items()}
    for question in choices:
        column = getattr(SatisfactionAnswer, question)
        rows = session.execute(
            select(column, func.count())
            .where(SatisfactionAnswer.territory_id == territory_id, SatisfactionAnswer.year.in_(list(years)))
            .group_by(column)
        ).all()
        for choice, n in rows:
            if choice in counts[question]:
                counts[question][choice] = n
    return counts


def indicators(session: Session, principal: Principal, cpts: str, period: Period) -> Indicators:
    territory = territory_for(session, principal, cpts)
    # Counted by the database, one row per combination of status and priority groups: a CPTS
    # receives thousands of requests a year. The groups are those at intake (`groups_at_intake`):
    # the ACI figures count who was received in the period, as received.
    mine = visible(PatientRequest, principal) & (PatientRequest.territory_id == territory.id)
    columns = (
        PatientRequest.status,
        PatientRequest.close_reason,
        PatientRequest.ald,
        PatientRequest.aged_70_or_more,
        PatientRequest.css_or_ame,
        PatientRequest.css,
        PatientRequest.ame,
    )
    requests = session.execute(
        _in_period(select(*columns, func.count().label("n")).where(mine), period).group_by(*columns)
    ).all()
    inside = [r for r in requests if r.status != RequestStatus.OUT_OF_TERRITORY]
    matched = [r for r in inside if r.status == RequestStatus.MATCHED]
    # Each matched request of the period, with when it was matched and what the patient confirmed
    # afterwards (app/requests/outcomes.py): the funnel and its median delays, in Python.
    first_offer_at = (
        select(func.min(DoctorOffer.created_at)).where(DoctorOffer.request_id == PatientRequest.id).scalar_subquery()
    )
    through_offer = exists().where(
        DoctorOffer.request_id == PatientRequest.id, DoctorOffer.status == OfferStatus.ACCEPTED.value
    )
    journeys = session.execute(
        _in_period(
            select(
                PatientRequest.created_at,
                first_matched_at().label("matched_at"),
                first_offer_at.label("first_offer_at"),
                through_offer.label("through_offer"),
                PatientRequest.first_visit_confirmed_at,
                PatientRequest.declared_confirmed_at,
                PatientRequest.confirmation_channel,
                PatientRequest.ald,
                PatientRequest.aged_70_or_more,
                PatientRequest.css_or_ame,
            ).where(mine, PatientRequest.status == RequestStatus.MATCHED.value),
            period,
        )
    ).all()

    # Each request of the period offered to at least one doctor, once however many offers it had.
    offered = session.execute(
        _in_period(
            select(
                PatientRequest.id,
                PatientRequest.created_at,
                PatientRequest.ald,
                PatientRequest.aged_70_or_more,
                PatientRequest.css_or_ame,
                func.min(DoctorOffer.created_at).label("first_offer_at"),
            )
            .join(DoctorOffer, DoctorOffer.request_id == PatientRequest.id)
            .where(
                mine,
                visible(DoctorOffer, principal),
                PatientRequest.status != RequestStatus.OUT_OF_TERRITORY.value,
            )
            .group_by(
                PatientRequest.id,
                PatientRequest.created_at,
                PatientRequest.ald,
                PatientRequest.aged_70_or_more,
                PatientRequest.css_or_ame,
            ),
            period,
        )
    ).all()

    def count(items: Sequence) -> int:
        return sum(r.n for r in items)

    def split(items: Sequence) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for r in items:
            for group in (*groups_at_intake(r), *css_ame_split(r.css, r.ame, r.css_or_ame)):
                counts[group] += r.n
        return {
            "ald": counts["ald"],
            "age_70": counts["age_70"],
            "css": counts["css"],
            # The "css" group split as the ACI counts it: CSS, AME, or one of them unknown which.
            **{key: counts[key] for key in CSS_AME_KEYS},
            "total": count(items),
        }

    def by(column) -> dict[str, int]:
        n = func.count().label("n")
        query = _in_period(select(column, n).select_from(PatientRequest).where(mine), period)
        if column is not PatientRequest.commune_name:
            query = query.outerjoin(Source, Source.id == PatientRequest.source_id)
        rows = session.execute(query.group_by(column).order_by(n.desc(), column)).all()
        return {name or "formulaire direct": number for name, number in rows}

    closed: Counter[str] = Counter()
    for r in inside:
        if r.status == RequestStatus.CLOSED:
            closed[r.close_reason] += r.n

    doctors = session.execute(
        select(Doctor.accepting_new_patients, Doctor.capacity_remaining, Doctor.confirmed_at).where(
            visible(Doctor, principal), Doctor.territory_id == territory.id, Doctor.active.is_(True)
        )
    ).all()
    stale_limit = utcnow() - STALE_AFTER
    offer_rows = session.execute(
        _in_period(
            select(DoctorOffer.status, func.count())
            .join(PatientRequest, PatientRequest.id == DoctorOffer.request_id)
            .where(mine, visible(DoctorOffer, principal))
            .group_by(DoctorOffer.status),
            period,
        )
    ).all()
    offer_counts = {status.value: 0 for status in OfferStatus} | {status: n for status, n in offer_rows}
    sms_rows = session.execute(
        _in_period(
            select(OutboxMessage.status, OutboxMessage.delivery, func.count())
            .join(PatientRequest, PatientRequest.id == OutboxMessage.request_id)
            # Not one given up because the patient's data was erased first: never sent, not a failure.
            .where(
                mine, OutboxMessage.channel == "sms", OutboxMessage.last_error.is_distinct_from(ERASED_MESSAGE_ERROR)
            )
            .group_by(OutboxMessage.status, OutboxMessage.delivery),
            period,
        )
    ).all()
    return {
        "cpts": territory.slug,
        "period": {"from": period.since, "to": period.until},
        "requests": {
            "received": count(inside),
            "out_of_territory": count(requests) - count(inside),
            "proposed": count([r for r in inside if r.status == RequestStatus.PROPOSED]),
            "matched": count(matched),
            "closed": dict(closed),
            "still_waiting": count([r for r in inside if r.status in (RequestStatus.RECEIVED, RequestStatus.PROPOSED)]),
        },
        # The ACI figures: patients without a médecin traitant oriented, split ALD / 70+ / CSS.
        "received_by_group": split(inside),
        "matched_by_group": split(matched),
        "median_days_to_match": _median_days((j.created_at, j.matched_at) for j in journeys),
        "funnel": _funnel(count(inside), offered, journeys),
        "outcomes": _outcomes(journeys),
        "satisfaction": satisfaction(session, territory.id, period),
        "by_commune": by(PatientRequest.commune_name),
        "by_source": by(Source.name),
        "doctors": {
            "volunteers": len(doctors),
            "accepting": sum(d.accepting_new_patients and d.capacity_remaining > 0 for d in doctors),
            "places_offered": sum(d.capacity_remaining for d in doctors if d.accepting_new_patients),
            "places_used": count(matched),
            "stale": sum(d.confirmed_at < stale_limit for d in doctors),
        },
        "offers": {"made": sum(offer_counts.values()), **offer_counts},
        "sms": _sms_counts(sms_rows),
        # Unscheduled care over the same period, by slot start: offered, booked, used.
        "unscheduled_care": snp_indicators(session, territory.id, *period.bounds()),
        "unscheduled_care_report": snp_activity(session, principal, territory.id, period),
        "csnp_report": csnp_report(session, principal, territory.id, period),
        "calls": call_counts(session, principal, territory.id, *period.bounds()),
    }


class WeekCounts(TypedDict):
    received: int  # new requests of the CPTS (out of territory aside)
    matched: int  # oriented to a doctor during the week
    closed: int  # closed during the week
    unscheduled_bookings: int  # unscheduled-care bookings made during the week


def week_counts(
    session: Session, principal: Principal, territory_id: int, start: datetime, end: datetime
) -> WeekCounts:
    """What happened in a CPTS between `start` and `end`: counts only (the weekly digest)."""
    from app.snp.models import Booking

    mine = visible(PatientRequest, principal) & (PatientRequest.territory_id == territory_id)
    received = session.scalar(
        select(func.count()).where(
            mine,
            PatientRequest.status != RequestStatus.OUT_OF_TERRITORY.value,
            PatientRequest.created_at >= start,
            PatientRequest.created_at < end,
        )
    )

    def moved_to(status: RequestStatus) -> int:
        return (
            session.scalar(
                select(func.count(func.distinct(RequestEvent.request_id)))
                .join(PatientRequest, PatientRequest.id == RequestEvent.request_id)
                .where(mine, RequestEvent.to_status == status.value, RequestEvent.at >= start, RequestEvent.at < end)
            )
            or 0
        )

    bookings = session.scalar(
        select(func.count()).where(
            visible(Booking, principal),
            Booking.territory_id == territory_id,
            Booking.created_at >= start,
            Booking.created_at < end,
        )
    )
    return {
        "received": received or 0,
        "matched": moved_to(RequestStatus.MATCHED),
        "closed": moved_to(RequestStatus.CLOSED),
        "unscheduled_bookings": bookings or 0,
    }

"""The weekly digest: once a week, each CPTS's coordinators get an e-mail with the week's counts
(new requests, matched, closed, waiting, waiting too long, unscheduled-care bookings) and a link
to the workspace. Counts only: no name, phone or birth date ever goes into it.

The worker (app/notifications/outbox.py, `digest_if_due`) calls `run` with its clock. The week
counted is the last whole week, Monday to Sunday in Paris. A row of `weekly_digests`, unique per
CPTS and week, is written in the transaction that puts the e-mails in the outbox: a second run,
another worker, a restart find it and send nothing (two at the same instant: the unique key lets
one through, the other's transaction is rolled back)."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.accounts.service import coordinators_of
from app.core.settings import Settings
from app.notifications.models import WeeklyDigest
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.requests import reporting
from app.requests.repository import QueueFilters, queue_page
from app.requests.service import count_waiting_too_long, waiting_alert
from app.territories.repository import list_territories

logger = logging.getLogger(__name__)
PARIS = ZoneInfo("Europe/Paris")
# The digest reads every CPTS's figures as the service itself, through the same visibility rules.
DIGEST = Principal(
    user_id=None,
    email="résumé hebdomadaire",
    role=Role.ADMIN,
    territory_ids=frozenset(),
    doctor_id=None,
    client_address=None,
)


@dataclass(frozen=True)
class Week:
    monday: date  # Paris

    @classmethod
    def before(cls, now: datetime) -> "Week":
        """The last whole week (Monday to Sunday, Paris) before `now`."""
        today = now.astimezone(PARIS).date()
        return cls(today - timedelta(days=today.weekday() + 7))

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.monday, time(), PARIS)
        return start, datetime.combine(self.monday + timedelta(days=7), time(), PARIS)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)


def _already_sent(session: Session, territory_id: int, week: Week) -> bool:
    found = session.scalars(
        select(WeeklyDigest.id).where(WeeklyDigest.territory_id == territory_id, WeeklyDigest.week_start == week.monday)
    ).first()
    return found is not None


def compose(session: Session, settings: Settings, territory, week: Week, now: datetime) -> tuple[str | None, str]:
    """The e-mail of one CPTS for one week: (subject, body)."""
    start, end = week.bounds
    counts = reporting.week_counts(session, DIGEST, territory.id, start, end)
    alert = waiting_alert(settings.waiting_alert_days, now.astimezone(PARIS).date())
    waiting = queue_page(session, DIGEST, QueueFilters(cpts=territory.slug), 1, 1, alert.today)[1]
    base = (settings.public_url or "").rstrip("/")
    return render(
        "weekly_digest",
        "email",
        territory=territory.name,
        since=week.monday.strftime("%d/%m/%Y"),
        until=week.sunday.strftime("%d/%m/%Y"),
        counts=counts,
        waiting=waiting,
        waiting_too_long=count_waiting_too_long(session, DIGEST, territory.slug, alert),
        alert_days=alert.days,
        workspace_url=f"{base}/espace/demandes" if base else None,
    )


def run(session: Session, settings: Settings, now: datetime) -> int:
    """Sends the last week's digest of every CPTS that has not had it; returns how many CPTS
    got theirs. Commits one CPTS at a time (its record with its e-mails)."""
    week = Week.before(now)
    sent = 0
    for territory in list_territories(session):
        if _already_sent(session, territory.id, week):
            continue
        recipients = coordinators_of(session, territory.id)
        subject, body = compose(session, settings, territory, week, now)
        session.add(
            WeeklyDigest(territory_id=territory.id, week_start=week.monday, recipients=len(recipients), created_at=now)
        )
        for email in recipients:
            enqueue(
                session,
                kind="weekly_digest",
                channel="email",
                recipient=email,
                subject=subject,
                body=body,
                territory_id=territory.id,
                now=now,
            )
        try:
            session.commit()
        except IntegrityError:  # another worker recorded this week first: it sends it
            session.rollback()
            continue
        sent += 1
        logger.info(
            "weekly_digest_sent",
            extra={"territory_id": territory.id, "week": week.monday.isoformat(), "recipients": len(recipients)},
        )
    return sent

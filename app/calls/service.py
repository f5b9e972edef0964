"""Logging a call to the CPTS's phone line, and counting them (by day and by hour, in Paris
time) to size the line. A call keeps three choices and its time: nothing about the caller."""

from collections import Counter
from datetime import date, datetime
from typing import TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.accounts.policy import Action, ensure
from app.accounts.principal import Principal
from app.calls import repository
from app.calls.models import CALLERS, OUTCOMES, REASONS, PhoneCall
from app.core.database import utcnow
from app.core.errors import FieldError, Unprocessable
from app.doctors.service import territory_for

PARIS = ZoneInfo("Europe/Paris")


def log_call(session: Session, principal: Principal, cpts: str, caller: str, reason: str, outcome: str) -> PhoneCall:
    ensure(principal, Action.LOG_CALL)
    territory = territory_for(session, principal, cpts)
    errors = [
        FieldError(field=name, message=message)
        for name, value, choices, message in (
            ("caller", caller, CALLERS, "Choisissez qui appelle."),
            ("reason", reason, REASONS, "Choisissez le motif de l'appel."),
            ("outcome", outcome, OUTCOMES, "Choisissez la suite donnée."),
        )
        if value not in choices
    ]
    if errors:
        raise Unprocessable("Appel non enregistré : " + " ".join(e.message for e in errors), fields=errors)
    call = PhoneCall(
        territory_id=territory.id,
        caller=caller,
        reason=reason,
        outcome=outcome,
        called_at=utcnow(),
        logged_by_user_id=principal.user_id,
    )
    session.add(call)
    session.flush()
    return call


class CallCounts(TypedDict):
    total: int
    by_day: dict[date, int]  # Paris date → calls, days with calls only, in order
    by_hour: dict[int, int]  # Paris hour 0–23 → calls over the period, every hour
    by_caller: dict[str, int]
    by_reason: dict[str, int]
    by_outcome: dict[str, int]


def call_counts(
    session: Session, principal: Principal, territory_id: int, start: datetime | None, end: datetime | None
) -> CallCounts:
    """The CPTS's calls in [start, end): by Paris day, by Paris hour of the day, by each choice.
    Counted here (a few dozen calls a day): the hour in Paris is the same code on both databases."""
    rows = repository.calls_between(session, principal, territory_id, start, end)
    local = [at.astimezone(PARIS) for at, *_ in rows]
    days = Counter(at.date() for at in local)
    hours = Counter(at.hour for at in local)

    def by(index: int, choices: dict[str, str]) -> dict[str, int]:
        counted = Counter(row[index] for row in rows)
        return {choice: counted[choice] for choice in choices}

    return {
        "total": len(rows),
        "by_day": dict(sorted(days.items())),
        "by_hour": {hour: hours[hour] for hour in range(24)},
        "by_caller": by(1, CALLERS),
        "by_reason": by(2, REASONS),
        "by_outcome": by(3, OUTCOMES),
    }

"""The queries of the phone line's calls, scoped to the caller's CPTS."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.calls.models import PhoneCall


def calls_between(
    session: Session, principal: Principal, territory_id: int, start: datetime | None, end: datetime | None
) -> list[tuple[datetime, str, str, str]]:
    """(called_at, caller, reason, outcome) of the CPTS's calls in [start, end)."""
    query = select(PhoneCall.called_at, PhoneCall.caller, PhoneCall.reason, PhoneCall.outcome).where(
        visible(PhoneCall, principal), PhoneCall.territory_id == territory_id
    )
    if start is not None:
        query = query.where(PhoneCall.called_at >= start)
    if end is not None:
        query = query.where(PhoneCall.called_at < end)
    return [tuple(row) for row in session.execute(query.order_by(PhoneCall.called_at))]  # type: ignore[misc]

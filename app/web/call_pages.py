"""The phone line (`/espace/appels`): the coordination logs a call in two clicks — why, then
how it ended (who called is "patient" unless changed) — and sees the day's calls by hour. The
same compact form is on the queue. The rules are app/calls'."""

from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.accounts.policy import Action
from app.calls import service
from app.calls.models import CALLERS, OUTCOMES, REASONS
from app.core.dependencies import DbSession
from app.core.errors import NotFound
from app.requests.priority import day_in_paris
from app.web.labels import call_form_context
from app.web.pages import render
from app.web.request_pages import act
from app.web.session import Caller, page_for

router = APIRouter(prefix="/espace", include_in_schema=False)
CallLogger = Annotated[Caller, page_for(Action.LOG_CALL)]
HOME = "/espace/appels"
# Where the compact form may send the caller back to: the pages that show it.
RETURNS = {HOME, "/espace/demandes"}


@router.get("/appels", response_class=HTMLResponse)
def calls_page(request: Request, caller: CallLogger, session: DbSession) -> HTMLResponse:
    if caller.territory is None:
        raise NotFound("Vous ne travaillez dans aucune CPTS.")
    today = day_in_paris()
    start = datetime.combine(today, time(), service.PARIS)
    counts = service.call_counts(session, caller.principal, caller.territory.id, start, start + timedelta(days=1))
    context = {
        **call_form_context(),
        "call_return": HOME,
        "today": today,
        "counts": counts,
        "hours": [(hour, n) for hour, n in counts["by_hour"].items() if n],
    }
    return render(request, caller, "espace/calls.html", context)


@router.post("/appels")
def log_call(
    caller: CallLogger,
    session: DbSession,
    caller_kind: Annotated[str, Form(alias="caller", max_length=20)] = "",
    reason: Annotated[str, Form(max_length=20)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    suite: Annotated[str, Form(max_length=40)] = HOME,
) -> Response:
    def do() -> str:
        service.log_call(session, caller.principal, caller.cpts or "", caller_kind, reason, outcome)
        return f"Appel noté : {CALLERS[caller_kind].lower()}, {REASONS[reason].lower()}, {OUTCOMES[outcome].lower()}."

    return act(session, suite if suite in RETURNS else HOME, do)

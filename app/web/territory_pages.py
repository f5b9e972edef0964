"""The territory at a glance (`/espace/territoire`), the invitations to volunteer, the sign-ups
to decide and the six-month refresh campaign. The rules are app/recruitment's; these pages read
the forms, call it, and show the result."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.accounts.policy import Action
from app.core.database import all_or_nothing, utcnow
from app.core.dependencies import DbSession, Geocoding
from app.core.errors import ApiError, NotFound
from app.core.inputs import DbId
from app.core.links import public_base_url
from app.recruitment import service
from app.recruitment.links import SIGNUP_PATH
from app.recruitment.models import ApplicationStatus
from app.requests.priority import day_in_paris
from app.territories.models import Territory
from app.web.pages import render
from app.web.session import Caller, page_for, redirect

Reader = Annotated[Caller, page_for(Action.READ_TERRITORY)]
Recruiter = Annotated[Caller, page_for(Action.RECRUIT_DOCTORS)]
router = APIRouter(prefix="/espace", include_in_schema=False)
HOME = "/espace/territoire"


def _territory(caller: Caller) -> Territory:
    if caller.territory is None:
        raise NotFound("Vous ne travaillez dans aucune CPTS.")
    return caller.territory


@router.get("/territoire", response_class=HTMLResponse)
def territory_page(
    request: Request,
    caller: Reader,
    session: DbSession,
    voir: Annotated[str, Query(max_length=20)] = "tous",
    commune: Annotated[str, Query(max_length=5)] = "",
) -> HTMLResponse:
    settings = request.app.state.settings
    seen = service.overview(
        session,
        caller.principal,
        _territory(caller),
        request.app.state.geocoding.communes,
        show=voir,
        commune=commune,
        tiles=settings.map_tile_url,
        attribution=settings.map_tile_attribution,
    )
    context = {"o": seen, "shows": service.SHOWS, "now": utcnow(), "can_recruit": caller.can(Action.RECRUIT_DOCTORS)}
    return render(request, caller, "espace/territory.html", context)


def _choices(form) -> list[tuple[str, str | None]]:
    picked = [str(value).strip()[:20] for value in form.getlist("rpps")][: service.MAX_INVITATIONS + 1]
    return [(rpps, str(form.get(f"email_{rpps}") or "").strip()[:254] or None) for rpps in picked if rpps]


@router.post("/territoire/invitations", response_class=HTMLResponse)
async def invite(request: Request, caller: Recruiter, session: DbSession) -> Response:
    form = await request.form()
    choices = _choices(form)
    back = str(form.get("suite") or "")
    back = back if back.startswith(HOME) and not back.startswith("//") else HOME

    def run() -> Response:
        with all_or_nothing(session):
            outcome = service.invite(
                session,
                request.app.state.settings,
                public_base_url(request),
                caller.principal,
                _territory(caller),
                choices,
            )
        parts = []
        if outcome.emailed:
            parts.append(
                f"Invitation envoyée par e-mail à {', '.join(i.email or '' for i in outcome.emailed)}."
                if len(outcome.emailed) <= 3
                else f"{len(outcome.emailed)} invitations envoyées par e-mail."
            )
        if outcome.letters:
            parts.append(f"{len(outcome.letters)} lettre(s) à imprimer (pas d'adresse e-mail connue).")
        parts += outcome.refused
        kind = "ok" if outcome.emailed or outcome.letters else "error"
        if outcome.letters:
            ids = ",".join(str(i.id) for i in outcome.letters)
            return redirect(f"{HOME}/lettres?ids={ids}", " ".join(parts), kind)
        return redirect(back, " ".join(parts), kind)

    return await run_in_threadpool(run)


def _ids(text: str) -> list[int]:
    ids = []
    for part in text.split(",")[: service.MAX_INVITATIONS]:
        part = part.strip()
        if part.isdigit() and len(part) <= 12:
            ids.append(int(part))
    return ids


@router.get("/territoire/lettres", response_class=HTMLResponse)
def letters(
    request: Request, caller: Recruiter, session: DbSession, ids: Annotated[str, Query(max_length=2600)] = ""
) -> HTMLResponse:
    found = service.letters(session, request.app.state.settings, public_base_url(request), caller.principal, _ids(ids))
    context = {"letters": found, "today": day_in_paris(), "signup_url": public_base_url(request) + SIGNUP_PATH}
    return render(request, caller, "espace/territory_letters.html", context)


@router.get("/territoire/candidatures", response_class=HTMLResponse)
def applications(request: Request, caller: Recruiter, session: DbSession) -> HTMLResponse:
    territory = _territory(caller)
    rows = service.applications(session, caller.principal, territory)
    context = {
        "pending": [a for a in rows if a.status == ApplicationStatus.PENDING.value],
        "decided": [a for a in rows if a.status != ApplicationStatus.PENDING.value][:100],
        "signup_url": public_base_url(request) + SIGNUP_PATH,
    }
    return render(request, caller, "espace/applications.html", context)


@router.post("/territoire/candidatures/{application_id}/accepter", response_class=HTMLResponse)
def approve(
    application_id: DbId, request: Request, caller: Recruiter, session: DbSession, geocoding: Geocoding
) -> Response:
    try:
        with all_or_nothing(session):
            doctor = service.approve(session, geocoding, caller.principal, application_id)
    except NotFound:
        raise
    except ApiError as exc:
        return redirect(f"{HOME}/candidatures", f"Inscription non acceptée : {exc.message}", "error")
    return redirect(
        f"/espace/medecins/{doctor.id}",
        f"Dr {doctor.given_name} {doctor.family_name} est maintenant médecin volontaire.",
    )


@router.post("/territoire/candidatures/{application_id}/refuser", response_class=HTMLResponse)
def reject(application_id: DbId, request: Request, caller: Recruiter, session: DbSession) -> Response:
    try:
        with all_or_nothing(session):
            application = service.reject(session, caller.principal, application_id)
    except NotFound:
        raise
    except ApiError as exc:
        return redirect(f"{HOME}/candidatures", exc.message, "error")
    return redirect(
        f"{HOME}/candidatures", f"Inscription de Dr {application.given_name} {application.family_name} refusée."
    )


@router.get("/territoire/campagne", response_class=HTMLResponse)
def campaign(request: Request, caller: Recruiter, session: DbSession) -> HTMLResponse:
    rows = service.refresh_campaign(session, caller.principal, _territory(caller))
    counts = {state: sum(1 for r in rows if r.state == state) for state in service.CAMPAIGN_STATES}
    context = {"rows": rows, "counts": counts, "states": service.CAMPAIGN_STATES, "now": utcnow()}
    return render(request, caller, "espace/campaign.html", context)

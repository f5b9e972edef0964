"""Signing in and out of the workspace, and the CPTS switcher."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.accounts import psc
from app.accounts import service as accounts
from app.accounts.models import Role
from app.accounts.principal import SESSION_COOKIE
from app.core.dependencies import DbSession
from app.core.errors import TooManyRequests, Unauthorized
from app.core.inputs import DbId
from app.core.ratelimit import LOGIN
from app.web.pages import home_of, render
from app.web.session import AnyCaller, PendingCaller, redirect, safe_next, set_session_cookie, switch_territory

router = APIRouter(prefix="/espace", include_in_schema=False)


@router.get("/connexion", response_class=HTMLResponse)
def sign_in_page(request: Request, suite: str | None = None, expiree: str | None = None) -> HTMLResponse:
    context = {"next_path": safe_next(suite), "expired": bool(expiree)}
    return render(request, None, "espace/sign_in.html", context | _psc_context(request, safe_next(suite)))


def _psc_context(request: Request, next_path: str | None) -> dict:
    """Whether the Pro Santé Connect button shows, and whether the page to return to is a
    slot's booking page the SAS opened (its regulator is invited to use PSC)."""
    enabled = psc.configured(request.app.state.settings)
    from_sas = bool(next_path and "/reserver?" in next_path and "origin=sas" in next_path)
    return {"psc_enabled": enabled, "from_sas": enabled and from_sas}


@router.post("/connexion", response_class=HTMLResponse, dependencies=[Depends(LOGIN)])
def sign_in(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    suite: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    settings = request.app.state.settings
    context = {"email": email, "next_path": safe_next(suite)} | _psc_context(request, safe_next(suite))
    if not email.strip() or not password:
        return render(
            request,
            None,
            "espace/sign_in.html",
            context | {"error": "Saisissez votre adresse e-mail et votre mot de passe."},
            422,
        )
    try:
        user = accounts.authenticate(session, settings, email.strip(), password, request.app.state.clock())
    except (Unauthorized, TooManyRequests) as exc:
        page = render(request, None, "espace/sign_in.html", context | {"error": exc.message}, exc.status_code)
        page.headers.update(exc.headers or {})
        return page
    secret, _ = accounts.open_session(session, settings, user)
    response = redirect(safe_next(suite) or home_of(Role(user.role)))
    set_session_cookie(response, settings, secret)
    return response


@router.post("/deconnexion")
def sign_out(caller: PendingCaller, session: DbSession) -> Response:
    accounts.close_session(session, caller.principal)
    response = redirect("/espace/connexion", "Vous êtes déconnecté.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/cpts")
def switch(
    caller: AnyCaller,
    session: DbSession,
    territory_id: Annotated[DbId, Form()],
    suite: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    territory = switch_territory(session, caller, territory_id)
    back = safe_next(suite) or home_of(caller.role)
    if back.count("/") > 2:  # a request or doctor of the previous CPTS: back to the list
        back = "/".join(back.split("/")[:3])
    return redirect(back, f"Vous travaillez maintenant pour la {territory.name}.")


@router.get("", response_class=HTMLResponse)
def home(caller: AnyCaller) -> Response:
    return redirect(home_of(caller.role))


@router.get("/accueil", response_class=HTMLResponse)
def welcome(request: Request, caller: AnyCaller) -> HTMLResponse:
    return render(request, caller, "espace/home.html")

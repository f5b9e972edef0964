"""Choosing a password from an e-mailed link (an invitation, or "Mot de passe oublié"), and
asking for the latter. The links are app/accounts/links.py's: single-use, expiring."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from app.accounts import links
from app.accounts import service as accounts
from app.core.dependencies import DbSession
from app.core.errors import Unprocessable
from app.core.links import public_base_url
from app.core.ratelimit import LOGIN
from app.web.pages import render
from app.web.templates import templates

router = APIRouter(include_in_schema=False)
FORGOTTEN = "/espace/mot-de-passe-oublie"
TITLES = {links.Purpose.INVITATION: "Choisir votre mot de passe", links.Purpose.RESET: "Changer votre mot de passe"}


def _invalid(request: Request, expired: bool) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "account_link_invalid.html", {"expired": expired, "forgotten": FORGOTTEN}, status_code=404
    )


def _page(request: Request, purpose: links.Purpose, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "account_password.html",
        {"error": None, "done": False, "title": TITLES[purpose], **context},
        status_code=status_code,
    )


def _show(purpose: links.Purpose):
    def show(token: str, request: Request, session: DbSession) -> HTMLResponse:
        found = links.check_link(session, request.app.state.settings, token, purpose)
        if found.user is None:
            return _invalid(request, found.expired)
        return _page(request, purpose, email=found.user.email)

    return show


def _submit(purpose: links.Purpose):
    def submit(
        token: str,
        request: Request,
        session: DbSession,
        password: Annotated[str, Form(max_length=500)] = "",
        confirmation: Annotated[str, Form(max_length=500)] = "",
    ) -> HTMLResponse:
        found = links.check_link(session, request.app.state.settings, token, purpose)
        if found.user is None:
            return _invalid(request, found.expired)
        email = found.user.email
        if password != confirmation:
            return _page(request, purpose, 422, email=email, error="Les deux saisies ne sont pas identiques.")
        try:
            accounts.choose_password_from_link(session, found.user, password, purpose)
        except Unprocessable as exc:
            return _page(request, purpose, 422, email=email, error=exc.message)
        return _page(request, purpose, email=email, done=True)

    return submit


for _purpose in links.Purpose:
    _path = links.PATHS[_purpose] + "/{token}"
    router.add_api_route(_path, _show(_purpose), methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(_path, _submit(_purpose), methods=["POST"], response_class=HTMLResponse)


@router.get(FORGOTTEN, response_class=HTMLResponse)
def forgotten_page(request: Request) -> HTMLResponse:
    return render(request, None, "espace/forgotten.html", {"sent": False})


@router.post(FORGOTTEN, response_class=HTMLResponse, dependencies=[Depends(LOGIN)])
def forgotten(request: Request, session: DbSession, email: Annotated[str, Form(max_length=254)] = "") -> HTMLResponse:
    """The same page whether or not an account has this address (nothing tells which);
    rate limited like signing in."""
    if "@" not in email or len(email.strip()) < 3:
        error = "Saisissez l'adresse e-mail de votre compte."
        return render(request, None, "espace/forgotten.html", {"sent": False, "error": error}, 422)
    accounts.request_password_reset(session, request.app.state.settings, public_base_url(request), email)
    return render(request, None, "espace/forgotten.html", {"sent": True})

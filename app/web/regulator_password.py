"""The page a new SAS regulator reaches from its welcome e-mail: choose a password. The link
is spent once a password is set (the signed payload holds the previous hash)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from app.accounts.regulators import set_password, user_of_password_token
from app.core.dependencies import DbSession
from app.core.errors import Unprocessable
from app.web.templates import templates

router = APIRouter(include_in_schema=False)
PATH = "/comptes/mot-de-passe/{token}"


def _page(request: Request, status_code: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "regulator_password.html", {"error": None, "done": False, **context}, status_code=status_code
    )


@router.get(PATH, response_class=HTMLResponse)
def show(token: str, request: Request, session: DbSession) -> HTMLResponse:
    user = user_of_password_token(session, request.app.state.settings, token)
    if user is None:
        return templates.TemplateResponse(request, "link_invalid.html", {"expired": False}, status_code=404)
    return _page(request, email=user.email)


@router.post(PATH, response_class=HTMLResponse)
def submit(
    token: str,
    request: Request,
    session: DbSession,
    password: Annotated[str, Form(max_length=500)] = "",
    confirmation: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    user = user_of_password_token(session, request.app.state.settings, token)
    if user is None:
        return templates.TemplateResponse(request, "link_invalid.html", {"expired": False}, status_code=404)
    if password != confirmation:
        return _page(request, 422, email=user.email, error="Les deux saisies ne sont pas identiques.")
    try:
        set_password(session, user, password)
    except Unprocessable as exc:
        return _page(request, 422, email=user.email, error=exc.message)
    return _page(request, email=user.email, done=True)

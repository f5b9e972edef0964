"""The second factor's pages: enrolment (QR code, then recovery codes shown once) and the code
asked after signing in. A session that owes its second factor reaches these pages and signing
out only (app/web/session.py sends it here from any other)."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.accounts import second_factor
from app.accounts import service as accounts
from app.core.dependencies import DbSession
from app.core.errors import Forbidden
from app.core.ratelimit import LOGIN
from app.web.pages import home_of, render
from app.web.session import SECOND_FACTOR, Caller, PendingCaller, redirect, safe_next, set_session_cookie

router = APIRouter(prefix="/espace", include_in_schema=False)
ENROL = SECOND_FACTOR + "/activation"


def _safe_next(path: str | None) -> str | None:
    # Back to the page asked for, never to these pages themselves.
    back = safe_next(path)
    return None if back is None or back.startswith(SECOND_FACTOR) else back


def _browser(caller: Caller) -> None:
    if caller.web_session_id is None:
        raise Forbidden("Le second facteur se donne depuis une session du navigateur, pas avec un jeton d'API.")


@router.get("/second-facteur", response_class=HTMLResponse)
def ask(request: Request, caller: PendingCaller, session: DbSession, suite: str | None = None) -> Response:
    _browser(caller)
    user = accounts.current_user(session, caller.principal)
    if not second_factor.enrolled(user):
        back = _safe_next(suite)
        return redirect(ENROL + ("?suite=" + quote(back, safe="/") if back else ""))
    if caller.principal.strong:
        return redirect(_safe_next(suite) or home_of(caller.role))
    return render(request, caller, "espace/second_factor.html", {"next_path": _safe_next(suite)})


@router.post("/second-facteur", response_class=HTMLResponse, dependencies=[Depends(LOGIN)])
def check(
    request: Request,
    caller: PendingCaller,
    session: DbSession,
    code: Annotated[str, Form(max_length=40)] = "",
    suite: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A code of the authenticator app, or a recovery code (spent once used); rate limited
    like signing in."""
    _browser(caller)
    how = accounts.give_second_factor(
        session, request.app.state.settings, caller.principal, code, request.app.state.clock()
    )
    if how is None:
        error = "Code incorrect ou déjà utilisé : saisissez le code à 6 chiffres que montre votre application."
        return render(
            request, caller, "espace/second_factor.html", {"next_path": _safe_next(suite), "error": error}, 422
        )
    secret = accounts.mark_session_strong(session, caller.principal, how)
    message = None
    if how == "recovery":
        left = second_factor.remaining_recovery_codes(session, accounts.current_user(session, caller.principal))
        message = f"Code de secours accepté : il ne servira plus. Il vous en reste {left}."
    response = redirect(_safe_next(suite) or home_of(caller.role), message)
    set_session_cookie(response, request.app.state.settings, secret)
    return response


@router.get("/second-facteur/activation", response_class=HTMLResponse)
def enrol_page(request: Request, caller: PendingCaller, session: DbSession, suite: str | None = None) -> Response:
    _browser(caller)
    user = accounts.current_user(session, caller.principal)
    if second_factor.enrolled(user):
        return redirect(SECOND_FACTOR if not caller.principal.strong else "/espace/mon-compte")
    secret = second_factor.pending_secret(user)  # kept with the request: the same QR code on reload
    uri = second_factor.provisioning_uri(user, secret)
    return render(
        request,
        caller,
        "espace/second_factor_enrol.html",
        {"qr": second_factor.qr_data_uri(uri), "secret": secret, "next_path": _safe_next(suite)},
    )


@router.post("/second-facteur/activation", response_class=HTMLResponse, dependencies=[Depends(LOGIN)])
def enrol(
    request: Request,
    caller: PendingCaller,
    session: DbSession,
    code: Annotated[str, Form(max_length=40)] = "",
    suite: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The first code confirms the app: the recovery codes are shown once, on the answer."""
    _browser(caller)
    user = accounts.current_user(session, caller.principal)
    if second_factor.enrolled(user):
        return redirect(SECOND_FACTOR)
    if user.totp_secret is None or not second_factor.confirm_enrolment(user, code):
        secret = second_factor.pending_secret(user)
        return render(
            request,
            caller,
            "espace/second_factor_enrol.html",
            {
                "qr": second_factor.qr_data_uri(second_factor.provisioning_uri(user, secret)),
                "secret": secret,
                "next_path": _safe_next(suite),
                "error": "Code incorrect : saisissez le code à 6 chiffres affiché maintenant par votre application.",
            },
            422,
        )
    codes = second_factor.new_recovery_codes(session, user)
    secret = accounts.mark_session_strong(session, caller.principal, "enrolment")
    response = render(
        request,
        caller,
        "espace/second_factor_codes.html",
        {"codes": codes, "next_path": _safe_next(suite) or home_of(caller.role)},
    )
    set_session_cookie(response, request.app.state.settings, secret)
    return response

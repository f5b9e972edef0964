"""Signing in to the workspace with Pro Santé Connect (app/accounts/psc.py for the protocol,
app/accounts/service.py `psc_account` for which account it is).

The button sends the browser to `/espace/connexion/psc`, which keeps the request's `state`,
`nonce`, PKCE verifier and the page to return to in a signed, short-lived, HttpOnly cookie of
this browser (itsdangerous, under the app's secret key), then redirects to PSC. PSC sends the
browser back to `/espace/connexion/psc/retour`: the `state` must be the cookie's, and is spent
(a second arrival with it is refused); then the code is exchanged, the ID token verified, the
userinfo read and matched. Every refusal shows the sign-in page with a French message, and
leaves neither account nor session behind."""

import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from app.accounts import psc
from app.accounts import service as accounts
from app.accounts.models import Role
from app.core.database import all_or_nothing, utcnow
from app.core.dependencies import DbSession
from app.core.errors import NotFound
from app.core.links import public_base_url
from app.core.ratelimit import LOGIN
from app.core.settings import secret_key
from app.web.pages import home_of, render
from app.web.session import safe_next, set_session_cookie

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/espace/connexion/psc", include_in_schema=False)
COOKIE = "orientation_psc"
COOKIE_PATH = "/espace/connexion/psc"
RETURN_PATH = "/espace/connexion/psc/retour"
_SALT = "psc-sign-in"

EXPIRED = (
    "La connexion par Pro Santé Connect a expiré ou n'a pas été commencée depuis ce navigateur : "
    "recommencez la connexion."
)
STATE_MISMATCH = "Le retour de Pro Santé Connect ne correspond pas à la connexion commencée : recommencez la connexion."
STATE_SPENT = "Ce retour de Pro Santé Connect a déjà servi : recommencez la connexion."
PROVIDER_ERROR = "Pro Santé Connect n'a pas authentifié la connexion (annulée ou refusée) : recommencez la connexion."


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(request.app.state.settings), salt=_SALT)


def _redirect_uri(request: Request) -> str:
    return public_base_url(request) + RETURN_PATH


def _configured(request: Request) -> None:
    if not psc.configured(request.app.state.settings):
        raise NotFound("La connexion par Pro Santé Connect n'est pas proposée ici.")


def _refused(request: Request, exc: psc.PscRefused, next_path: str | None) -> HTMLResponse:
    logger.info("psc_sign_in_refused", extra={"reason": exc.reason})  # a fixed word: nobody's data
    page = render(
        request,
        None,
        "espace/sign_in.html",
        {"error": exc.message, "next_path": next_path, "psc_enabled": True},
        exc.status_code,
    )
    page.delete_cookie(COOKIE, path=COOKIE_PATH)
    return page


@router.get("", dependencies=[Depends(_configured)])
def start(request: Request, suite: Annotated[str, Query(max_length=500)] = "") -> Response:
    """The button: to PSC, with a fresh state, nonce and PKCE verifier kept in this browser."""
    settings = request.app.state.settings
    next_path = safe_next(suite)
    try:
        asked = psc.psc_client(request.app).authorization_request(_redirect_uri(request))
    except psc.PscRefused as exc:
        return _refused(request, exc, next_path)
    kept = {"s": asked.state, "n": asked.nonce, "v": asked.code_verifier, "next": next_path}
    response = RedirectResponse(asked.url, status_code=303)
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(kept),
        max_age=settings.psc_sign_in_minutes * 60,
        httponly=True,
        samesite="lax",  # sent on PSC's top-level redirect back, never on another site's subrequest
        path=COOKIE_PATH,  # Secure over HTTPS: app/core/headers.py
    )
    return response


def _kept(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise psc.PscRefused("no_cookie", EXPIRED, 400)
    try:
        kept = _serializer(request).loads(raw, max_age=request.app.state.settings.psc_sign_in_minutes * 60)
    except BadSignature:  # SignatureExpired included
        raise psc.PscRefused("cookie_invalid", EXPIRED, 400) from None
    if not isinstance(kept, dict) or not all(isinstance(kept.get(k), str) for k in ("s", "n", "v")):
        raise psc.PscRefused("cookie_invalid", EXPIRED, 400)
    return kept


def _spend(session: DbSession, request: Request, state: str) -> None:
    """A state comes back once. Its digest is recorded (committed with the answer, refusal
    included: a refused return cannot be replayed either); older ones are forgotten."""
    now = utcnow()
    keep_minutes = request.app.state.settings.psc_sign_in_minutes
    accounts.forget_spent_psc_states(session, now, keep_minutes)
    try:
        with all_or_nothing(session):
            accounts.spend_psc_state(session, psc.state_digest(state), now)
    except IntegrityError:
        raise psc.PscRefused("state_spent", STATE_SPENT, 400) from None


# The return counts as a sign-in try of the client's address (LOGIN), as a password does.
@router.get("/retour", response_class=HTMLResponse, dependencies=[Depends(_configured), Depends(LOGIN)])
def callback(
    request: Request,
    session: DbSession,
    code: Annotated[str, Query(max_length=psc.MAX_CODE_LENGTH)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """PSC's redirect back: checked, then the session of the matched account opened."""
    next_path: str | None = None
    try:
        kept = _kept(request)
        next_path = safe_next(kept.get("next"))
        if not state or not hmac.compare_digest(state.encode(), kept["s"].encode()):
            raise psc.PscRefused("state_mismatch", STATE_MISMATCH, 400)
        _spend(session, request, state)
        if error or not code:  # error=access_denied… (its description is the provider's words: not shown)
            raise psc.PscRefused("provider_error", PROVIDER_ERROR, 401)
        now = request.app.state.clock()
        identity = psc.psc_client(request.app).identity(_redirect_uri(request), code, kept["v"], kept["n"], now)
        with all_or_nothing(session):  # an account made then refused is undone
            user = accounts.psc_account(session, identity, now)
    except psc.PscRefused as exc:
        return _refused(request, exc, next_path)
    settings = request.app.state.settings
    # A Pro Santé Connect sign-in (CPS card or e-CPS app) counts as a second factor.
    secret, _ = accounts.open_session(session, settings, user, strong=True)
    response = RedirectResponse(next_path or home_of(Role(user.role)), status_code=303)
    set_session_cookie(response, settings, secret)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response

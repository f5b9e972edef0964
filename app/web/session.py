"""Who is using the workspace pages (`/espace/…`), which CPTS they work in, and the CSRF check
of their forms. The one place the pages learn about their caller.

A browser is signed in by the session cookie of `/api/v1/auth/login` (or the sign-in page);
a script may use its bearer token as with the API. The pages' forms post without JavaScript,
so they cannot send the `X-CSRF-Token` header the API asks for: they carry the session's
CSRF token in a hidden `csrf_token` field instead, checked here for every unsafe method."""

import base64
import hmac
import json
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from app.accounts import service as accounts_service
from app.accounts.models import Role
from app.accounts.policy import Action, may, refuse
from app.accounts.principal import (
    SAFE_METHODS,
    SESSION_COOKIE,
    Principal,
    SecondFactorRequired,
    _bearer,
    _cookie,
    lacks_second_factor,
    live_web_session,
    principal_of_session,
    principal_of_token,
)
from app.core.dependencies import DbSession
from app.core.errors import Forbidden, Unauthorized
from app.core.settings import Settings
from app.territories import service as territories_service
from app.territories.models import Territory

CSRF_FIELD = "csrf_token"
FLASH_COOKIE = "orientation_flash"
SIGN_IN = "/espace/connexion"


class SignInRequired(Unauthorized):
    """Nobody signed in, or the session ended: the pages send the browser to the sign-in page."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("Session expirée : reconnectez-vous." if expired else "Connectez-vous.")
        self.expired = expired


@dataclass
class Caller:
    principal: Principal
    display_name: str
    csrf_token: str | None  # None for a bearer token: nothing to forge
    territory: Territory | None  # the CPTS the caller works in now
    territories: list[Territory] = field(default_factory=list)  # those it may switch to
    web_session_id: int | None = None

    @property
    def role(self) -> Role:
        return self.principal.role

    def can(self, action: Action | str) -> bool:
        """What the pages and templates ask (`caller.can('book_slot')`): app.accounts.policy."""
        return may(self.principal, Action(action))

    @property
    def cpts(self) -> str | None:
        return self.territory.slug if self.territory else None


def resolve_caller(
    request: Request,
    db: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Caller:
    """The caller of every page but the second factor's: a session that still owes its second
    factor (app/accounts/second_factor.py) is sent there first."""
    return _resolve(request, db, bearer, cookie, second_factor_owed_allowed=False)


def resolve_pending_caller(
    request: Request,
    db: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Caller:
    """The caller of the second factor's pages and of signing out, second factor given or not."""
    return _resolve(request, db, bearer, cookie, second_factor_owed_allowed=True)


def _resolve(
    request: Request,
    db: Session,
    bearer: HTTPAuthorizationCredentials | None,
    cookie: str | None,
    second_factor_owed_allowed: bool,
) -> Caller:
    chosen: int | None = None
    if bearer is not None:
        principal = principal_of_token(db, bearer.credentials, request)
        csrf, session_id, name = None, None, principal.email
    elif cookie:
        web_session = live_web_session(db, cookie)
        if web_session is None:
            raise SignInRequired(expired=True)
        if not second_factor_owed_allowed and lacks_second_factor(request, web_session.user, web_session.strong):
            raise SecondFactorRequired()
        principal = principal_of_session(web_session, request)
        csrf, session_id, name = web_session.csrf_token, web_session.id, web_session.user.display_name
        chosen = web_session.territory_id
    else:
        raise SignInRequired()
    territories = territories_service.territories_of(db, principal)
    current = next((t for t in territories if t.id == chosen), territories[0] if territories else None)
    return Caller(principal, name, csrf, current, territories, session_id)


async def page_caller(request: Request, caller: Annotated[Caller, Depends(resolve_caller)]) -> Caller:
    """The caller, with the CSRF field of its form checked when it changes something."""
    return await _csrf_checked(request, caller)


async def pending_page_caller(request: Request, caller: Annotated[Caller, Depends(resolve_pending_caller)]) -> Caller:
    """As page_caller, for the pages a session that owes its second factor may open."""
    return await _csrf_checked(request, caller)


async def _csrf_checked(request: Request, caller: Caller) -> Caller:
    if request.method not in SAFE_METHODS and caller.csrf_token is not None:
        form = await request.form()
        sent = str(form.get(CSRF_FIELD) or "")
        if not hmac.compare_digest(sent, caller.csrf_token):
            raise Forbidden("Formulaire expiré ou envoyé depuis un autre site : rechargez la page et recommencez.")
    return caller


def page_for(*actions: Action):
    """Dependency: a page for the roles that may do one of these actions (a 403 page for the
    others, 404 where the actions are hidden from the role: app.accounts.policy)."""

    def dependency(caller: Annotated[Caller, Depends(page_caller)]) -> Caller:
        if not any(caller.can(action) for action in actions):
            raise refuse(caller.role, actions, "Cette page n'est pas ouverte à votre rôle.")
        return caller

    return Depends(dependency)


AnyCaller = Annotated[Caller, Depends(page_caller)]
PendingCaller = Annotated[Caller, Depends(pending_page_caller)]


def switch_territory(db: Session, caller: Caller, territory_id: int) -> Territory:
    territory = next((t for t in caller.territories if t.id == territory_id), None)
    if territory is None:
        raise Forbidden("Vous n'appartenez pas à cette CPTS.")
    if caller.web_session_id is not None:
        accounts_service.set_session_territory(db, caller.web_session_id, territory.id)
    return territory


def safe_next(path: str | None) -> str | None:
    """Where to go back after signing in: only our own pages, never an address elsewhere
    ("//evil.example" included)."""
    if path and path.startswith("/espace") and not path.startswith("//"):
        return path
    return None


def set_session_cookie(response: Response, settings: Settings, secret: str) -> None:
    """The browser's session cookie (HttpOnly, SameSite=Lax; Secure over HTTPS: app/core/headers.py)."""
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=int(settings.session_hours * 3600), httponly=True, samesite="lax", path="/"
    )


# Flash messages: the result of an action, shown once on the page the browser is sent to.
def redirect(url: str, message: str | None = None, kind: str = "ok") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if message:
        value = base64.urlsafe_b64encode(json.dumps({"kind": kind, "text": message}).encode()).decode()
        response.set_cookie(FLASH_COOKIE, value, max_age=120, httponly=True, samesite="lax", path="/espace")
    return response


def take_flash(request: Request) -> dict | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        flash = json.loads(base64.urlsafe_b64decode(raw.encode()))
        if flash.get("kind") in ("ok", "error") and isinstance(flash.get("text"), str):
            return {"kind": flash["kind"], "text": flash["text"][:500]}
    except (ValueError, TypeError):
        pass
    return None


SECOND_FACTOR = "/espace/second-facteur"


def second_factor_url(next_path: str | None = None) -> str:
    if next_path and next_path.startswith("/espace") and not next_path.startswith(SECOND_FACTOR):
        return SECOND_FACTOR + "?suite=" + quote(next_path, safe="/")
    return SECOND_FACTOR


def sign_in_url(next_path: str | None = None, expired: bool = False) -> str:
    url = SIGN_IN
    params = []
    if expired:
        params.append("expiree=1")
    if next_path and next_path.startswith("/espace") and not next_path.startswith(SIGN_IN):
        params.append("suite=" + quote(next_path, safe="/"))
    return url + ("?" + "&".join(params) if params else "")

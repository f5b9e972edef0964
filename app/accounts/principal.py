"""Who is calling: a web session (cookie), a personal API token (bearer), or nobody.

Endpoints declare the action they serve with ``require(Action…)``, whose roles are read in
``app.accounts.policy``; what each caller may see is decided in ``app.accounts.access``."""

import getpass
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from starlette.concurrency import run_in_threadpool

from app.accounts.models import ApiToken, Membership, Role, User, WebSession
from app.accounts.policy import Action, may, refuse
from app.accounts.second_factor import needs_second_factor
from app.accounts.security import digest
from app.core import proxies
from app.core.database import utcnow
from app.core.dependencies import DbSession
from app.core.errors import Forbidden, Unauthorized

SESSION_COOKIE = "orientation_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

_bearer = HTTPBearer(auto_error=False, description="Jeton d'API personnel (orn_…)")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Session du navigateur")


@dataclass(frozen=True)
class Principal:
    user_id: int | None  # None: the deployment's operator, at the command line
    email: str
    role: Role
    territory_ids: frozenset[int]
    doctor_id: int | None
    client_address: str | None
    session_id: int | None = None  # set when signed in through the browser
    # A session opened after a second factor (or a strong sign-in), or a token made from one.
    strong: bool = False


def operator() -> Principal:
    """Whoever runs `orientation …` on the server: it may do anything, and is audited as such."""
    return Principal(
        user_id=None,
        email=f"cli:{getpass.getuser()}",
        role=Role.ADMIN,
        territory_ids=frozenset(),
        doctor_id=None,
        client_address=None,
    )


def client_address(request: Request) -> str | None:
    """The caller's address, as the rate limits and the audit trail count it (app/core/proxies.py)."""
    return proxies.client_address(request.scope, request.app.state.settings)


class SecondFactorRequired(Forbidden):
    """The account needs a second factor this session (or token) has not given: 403 from the
    API; the pages send the browser to the second factor's page."""

    def __init__(self) -> None:
        super().__init__(
            "Second facteur requis : validez votre connexion avec votre application d'authentification "
            "(/espace/second-facteur)."
        )


def _principal(user: User, request: Request, session_id: int | None = None, strong: bool = False) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        territory_ids=user.territory_ids,
        doctor_id=user.doctor_id,
        client_address=client_address(request),
        session_id=session_id,
        strong=strong,
    )


def lacks_second_factor(request: Request, user: User, strong: bool) -> bool:
    return not strong and needs_second_factor(request.app.state.settings, user)


def _from_token(db: Session, token: str, request: Request) -> Principal:
    # One round trip for the token, its user and the user's CPTS: this runs on every API call.
    api_token = (
        db.scalars(
            select(ApiToken)
            .options(joinedload(ApiToken.user).joinedload(User.memberships).lazyload(Membership.territory))
            .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
        )
        .unique()
        .one_or_none()
    )
    if api_token is None or not api_token.user.active:
        raise Unauthorized("Jeton d'API invalide ou révoqué.")
    if lacks_second_factor(request, api_token.user, api_token.strong):
        raise SecondFactorRequired()
    return _principal(api_token.user, request, strong=api_token.strong)


def live_web_session(db: Session, cookie: str) -> WebSession | None:
    """The browser's session with its user, or None when unknown, expired or its user disabled."""
    web_session = (
        db.scalars(
            select(WebSession)
            .options(joinedload(WebSession.user).joinedload(User.memberships).lazyload(Membership.territory))
            .where(WebSession.token_hash == digest(cookie))
        )
        .unique()
        .one_or_none()
    )
    if web_session is None or web_session.expires_at <= utcnow() or not web_session.user.active:
        return None
    return web_session


def principal_of_session(web_session: WebSession, request: Request) -> Principal:
    return _principal(web_session.user, request, web_session.id, web_session.strong)


def principal_of_token(db: Session, token: str, request: Request) -> Principal:
    return _from_token(db, token, request)


def _from_cookie(db: Session, cookie: str, request: Request) -> Principal:
    web_session = live_web_session(db, cookie)
    if web_session is None:
        raise Unauthorized("Session expirée : reconnectez-vous.")
    if request.method not in SAFE_METHODS:
        # A cookie is sent by the browser whatever page asks: a change must also carry the
        # session's CSRF token, which only our own pages know.
        sent = request.headers.get(CSRF_HEADER)
        if not sent or sent != web_session.csrf_token:
            raise Forbidden("Jeton CSRF absent ou invalide.")
    if lacks_second_factor(request, web_session.user, web_session.strong):
        raise SecondFactorRequired()
    return principal_of_session(web_session, request)


# These dependencies are `async def` so that FastAPI does not send each of them to the thread
# pool: only the database lookup of a token or a session cookie goes there.


async def optional_principal(
    request: Request,
    db: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal | None:
    if bearer is not None:
        return await run_in_threadpool(_from_token, db, bearer.credentials, request)
    if cookie:
        return await run_in_threadpool(_from_cookie, db, cookie, request)
    return None


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized("Authentification requise.")
    return principal


def require(action: Action):
    """Dependency: the caller must be signed in with a role that may do this (403 otherwise)."""

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not may(principal, action):
            raise refuse(principal.role, (action,), "Votre rôle ne permet pas cette action.")
        return principal

    return Depends(dependency)

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.accounts import service
from app.accounts.policy import Action
from app.accounts.principal import SESSION_COOKIE, Principal, current_principal, require
from app.accounts.schemas import (
    LoginIn,
    NewTokenOut,
    SessionOut,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
)
from app.core.dependencies import DbSession
from app.core.errors import error_responses
from app.core.inputs import DbId
from app.core.ratelimit import LOGIN

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Caller = Annotated[Principal, Depends(current_principal)]


@router.post(
    "/auth/login", response_model=SessionOut, responses=error_responses(401, 422, 429), dependencies=[Depends(LOGIN)]
)
def login(data: LoginIn, request: Request, response: Response, session: DbSession) -> SessionOut:
    """Opens a browser session (HttpOnly cookie). After five failures in a row for an e-mail
    address, each further try waits 1, 2, 4… seconds (at most a minute) after the last
    failure: 429 with Retry-After meanwhile, whether an account has this address or not."""
    settings = request.app.state.settings
    user = service.authenticate(session, settings, str(data.email), data.password, request.app.state.clock())
    secret, web_session = service.open_session(session, settings, user)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        path="/",  # Secure over HTTPS: app/core/headers.py
    )
    return SessionOut(user=service.user_out(user), csrf_token=web_session.csrf_token, expires_at=web_session.expires_at)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 403))
def logout(principal: Caller, session: DbSession, response: Response) -> Response:
    service.close_session(session, principal)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


@router.get("/auth/me", response_model=UserOut, responses=error_responses(401))
def me(principal: Caller, session: DbSession) -> UserOut:
    return service.user_out(service.current_user(session, principal))


@router.post(
    "/auth/tokens",
    response_model=NewTokenOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 422),
)
def create_token(data: TokenCreate, principal: Caller, session: DbSession) -> NewTokenOut:
    """A personal API token for scripts (`Authorization: Bearer orn_…`), shown only now."""
    secret, token = service.create_token(session, principal, data.name)
    return NewTokenOut(token=secret, **TokenOut.model_validate(token).model_dump())


@router.get("/auth/tokens", response_model=list[TokenOut], responses=error_responses(401))
def list_tokens(principal: Caller, session: DbSession) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in service.list_tokens(session, principal)]


@router.delete("/auth/tokens/{token_id}", response_model=TokenOut, responses=error_responses(401, 403, 404))
def revoke_token(token_id: DbId, principal: Caller, session: DbSession) -> TokenOut:
    return TokenOut.model_validate(service.revoke_token(session, principal, token_id))


AccountManager = Annotated[Principal, require(Action.MANAGE_ACCOUNTS)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_user(data: UserCreate, principal: AccountManager, session: DbSession) -> UserOut:
    """Admins create any account; coordinators create accounts in their own CPTS."""
    return service.user_out(service.create_user(session, data, principal))


@router.get("/users", response_model=list[UserOut], responses=error_responses(401, 403))
def list_users(principal: AccountManager, session: DbSession) -> list[UserOut]:
    return [service.user_out(u) for u in service.list_users(session, principal)]


@router.post("/users/{user_id}/deactivate", response_model=UserOut, responses=error_responses(401, 403, 404, 409))
def deactivate_user(user_id: DbId, principal: AccountManager, session: DbSession) -> UserOut:
    """An admin deactivates the account. A coordinator decides for its CPTS only: an account
    that also belongs to another CPTS leaves the coordinator's and stays active there. Nobody
    deactivates its own account (409)."""
    return service.user_out(service.set_user_active(session, principal, user_id, False))


@router.post("/users/{user_id}/activate", response_model=UserOut, responses=error_responses(401, 403, 404))
def activate_user(user_id: DbId, principal: AccountManager, session: DbSession) -> UserOut:
    return service.user_out(service.set_user_active(session, principal, user_id, True))

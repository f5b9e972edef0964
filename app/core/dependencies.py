"""FastAPI dependencies shared by every domain. What they hand out is built once per app in
``app.main.create_app`` and kept on ``app.state``, so tests can build apps with other settings."""

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.core.errors import Forbidden, Unauthorized
from app.core.settings import Settings
from app.geocoding.service import GeocodingService
from app.territories.communes import CommuneIndex


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """One session per request. Safe methods (GET, HEAD) only read, so they get read
    transactions, which never wait on SQLite; the others may write (see database._begin)."""
    safe = request.method in ("GET", "HEAD", "OPTIONS")
    session = (request.app.state.read_sessions if safe else request.app.state.write_sessions)()
    try:
        yield session
    finally:
        session.close()


def get_geocoding(request: Request) -> GeocodingService:
    return request.app.state.geocoding


def get_communes(request: Request) -> CommuneIndex:
    return request.app.state.geocoding.communes


_bearer = HTTPBearer(auto_error=False, description="Jeton d'administration (ORIENTATION_ADMIN_TOKEN)")


def require_admin(
    settings: Annotated[Settings, Depends(get_settings_dep)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Stand-in for accounts (issue 3): administration needs the deployment's admin token."""
    if not settings.admin_token:
        raise Forbidden(
            "Administration par l'API désactivée : définissez ORIENTATION_ADMIN_TOKEN, "
            "ou utilisez la commande `orientation territories create`."
        )
    if credentials is None or not hmac.compare_digest(
        credentials.credentials.encode(), settings.admin_token.encode()
    ):
        raise Unauthorized("Jeton d'administration absent ou invalide.")


DbSession = Annotated[Session, Depends(get_db)]
Geocoding = Annotated[GeocodingService, Depends(get_geocoding)]
Communes = Annotated[CommuneIndex, Depends(get_communes)]
AdminOnly = Depends(require_admin)

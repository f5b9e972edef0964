"""FastAPI dependencies shared by every domain. What they hand out is built once per app in
``app.main.create_app`` and kept on ``app.state``, so tests can build apps with other settings."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

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


DbSession = Annotated[Session, Depends(get_db)]
Geocoding = Annotated[GeocodingService, Depends(get_geocoding)]
Communes = Annotated[CommuneIndex, Depends(get_communes)]

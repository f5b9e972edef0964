"""FastAPI dependencies shared by every domain. What they hand out is built once per app in
``app.main.create_app`` and kept on ``app.state``, so tests can build apps with other settings."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.settings import Settings
from app.geocoding.service import GeocodingService
from app.territories.communes import CommuneIndex

# The dependencies below are `async def` although they do no I/O of their own: FastAPI runs a
# plain `def` dependency in the thread pool, and each such hop costs more than what they do.


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request. Safe methods (GET, HEAD) only read, so they get read
    transactions, which never wait on SQLite; the others may write (see database._begin).
    Opening a session touches no connection; closing one that still holds a connection
    (a rollback) is done in the thread pool, never on the event loop."""
    safe = request.method in ("GET", "HEAD", "OPTIONS")
    session = (request.app.state.read_sessions if safe else request.app.state.write_sessions)()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_geocoding(request: Request) -> GeocodingService:
    return request.app.state.geocoding


async def get_communes(request: Request) -> CommuneIndex:
    return request.app.state.geocoding.communes


DbSession = Annotated[Session, Depends(get_db)]
Geocoding = Annotated[GeocodingService, Depends(get_geocoding)]
Communes = Annotated[CommuneIndex, Depends(get_communes)]

"""FastAPI dependencies shared by every domain. What they hand out is built once per app in
``app.main.create_app`` and kept on ``app.state``, so tests can build apps with other settings."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.constraints import conflict_for
from app.core.database import ReadEngines, Reads
from app.core.settings import Settings
from app.geocoding.service import GeocodingService
from app.territories.communes import CommuneIndex

# The dependencies below are `async def` although they do no I/O of their own: FastAPI runs a
# plain `def` dependency in the thread pool, and each such hop costs more than what they do.


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request, and one unit of work: committed when the endpoint or page
    returned, rolled back when it raised. Services, endpoints and pages only flush; the few
    writes that must not wait go through database.commit_early or database.own_transaction.

    Declared with scope="function" (DbSession): the commit runs before the response is sent,
    so a 201 or a redirect means committed, and a commit that fails becomes the answer instead
    (409 for a known constraint, see constraints.py; 503 when the database is unavailable).

    Safe methods (GET, HEAD) only read, so they get read transactions, which never wait on
    SQLite; the others may write (see database._begin). Opening a session touches no
    connection: a request that never reached the database costs nothing here; the others end
    in the thread pool, never on the event loop (a read-only transaction's COMMIT costs what
    its ROLLBACK did, and a GET's read audit joins it on PostgreSQL).

    An endpoint whose database work is a single hop to the thread pool may end that hop with
    `commit_unit_of_work` (the intake): one hop instead of two, the same commit and the same
    answers when it fails; the session is then closed here."""
    safe = request.method in ("GET", "HEAD", "OPTIONS")
    session = (request.app.state.read_sessions if safe else request.app.state.write_sessions)()
    try:
        yield session
    except BaseException as error:
        if session.in_transaction():
            await run_in_threadpool(session.close)  # a rollback
        else:
            session.close()
        # A known unique key broken at a flush is the same 409 as at the commit.
        conflict = conflict_for(error) if isinstance(error, IntegrityError) else None
        if conflict is not None:
            raise conflict from None
        raise
    if session.in_transaction():
        await run_in_threadpool(commit_unit_of_work, session)
    else:
        session.close()


def commit_unit_of_work(session: Session) -> None:
    """The request's unit of work committed, in the thread pool (see get_db): a known unique
    key broken is a 409, anything else propagates; the session is closed either way."""
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        conflict = conflict_for(error)
        if conflict is None:
            raise  # not a race we know: a 500, logged by class only (errors.py)
        raise conflict from None
    finally:
        session.close()


async def get_geocoding(request: Request) -> GeocodingService:
    return request.app.state.geocoding


async def get_communes(request: Request) -> CommuneIndex:
    return request.app.state.geocoding.communes


# scope="function": the unit of work ends before the response is sent (see get_db). Every use
# of the session goes through this alias, so that a request has one session.
DbSession = Annotated[Session, Depends(get_db, scope="function")]
Geocoding = Annotated[GeocodingService, Depends(get_geocoding)]
Communes = Annotated[CommuneIndex, Depends(get_communes)]


async def get_read_session(request: Request, session: DbSession) -> AsyncIterator[Reads]:
    """For the read-only searches (the caller's slot search, the suggestions, the doctors' list,
    the residency check): a session on the read replica when READ_DATABASE_URL is set, beside
    the request's own session on the primary (which signs in, audits, and confirms that what
    the replica offers is still free). Unset: the request's own session, as everywhere else.
    Never for a writer: a replica refuses writes, and is behind the primary by its lag."""
    replicas = request.app.state.replica_sessions
    if replicas is None:
        yield Reads(session=session, primary=session)
        return
    replica = replicas()
    try:
        yield Reads(session=replica, primary=session)
    finally:
        if replica.in_transaction():
            await run_in_threadpool(replica.close)  # a rollback: nothing was written there
        else:
            replica.close()


async def get_read_engines(request: Request) -> ReadEngines:
    """The SAS feed's engines (it reads on bare connections): the replica's when configured."""
    primary = request.app.state.engine
    return ReadEngines(read=request.app.state.replica_engine or primary, primary=primary)


# The searches that may read from the replica (get_read_session); writers never take it.
ReadSession = Annotated[Reads, Depends(get_read_session, scope="function")]
ReadEngine = Annotated[ReadEngines, Depends(get_read_engines)]

"""Engine and sessions. The schema itself is made only by the Alembic migrations."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    DateTime,
    Engine,
    Executable,
    MetaData,
    Table,
    create_engine,
    event,
    exc,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.core.settings import get_settings

# Stable constraint names, so that migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model here is mapped to a Table (DeclarativeBase allows any FromClause): its
        # insert() and the Core statements built on it type-check.
        __table__: ClassVar[Table]


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware.

    SQLite has no time zones: without this, values read back would be naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times in UTC with tzinfo")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def execute_dml(session: Session, statement: Executable, params: dict[str, Any] | None = None) -> CursorResult[Any]:
    """Runs an INSERT, UPDATE or DELETE. Session.execute is typed as returning a Result, but for
    these statements it is a CursorResult, the one that carries rowcount and inserted_primary_key."""
    return cast(CursorResult[Any], session.execute(statement, params))


def utcnow() -> datetime:
    return datetime.now(UTC)


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while a write is in progress; foreign keys are off by default
    # in SQLite; the busy timeout makes concurrent writers wait instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Let SQLAlchemy, not the sqlite3 module, open transactions (see _begin).
    dbapi_connection.isolation_level = None


def _begin(connection) -> None:
    # A deferred transaction that read before another one committed cannot become a writer:
    # SQLite fails it at once with "database is locked", whatever the busy timeout. So a
    # transaction that may write takes the write lock at BEGIN (IMMEDIATE) and concurrent
    # writers wait their turn: a race ends in a clean answer (a 409 from a unique key).
    # Read-only transactions stay DEFERRED: in WAL mode they never wait for anybody.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def for_writing(engine: Engine) -> Engine:
    """The same engine (same pool) for transactions that may write."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


@contextmanager
def autocommit_reads(engine: Engine) -> Iterator[Connection]:
    """A connection for a single read, with no transaction around it on PostgreSQL: no BEGIN
    before and no ROLLBACK after, two round trips fewer (the SAS's slot search). SQLite keeps
    its deferred read transaction, which costs nothing there."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield connection


# ---- Reading from a replica (READ_DATABASE_URL) ----------------------------------------------
# The SAS feed and the searches read from a hot standby when one is configured; everything
# else, every write and the booking itself, uses the primary. What a replica shows may lag
# behind the primary: the services that read there confirm on the primary, by primary key,
# that each slot they offer is still free (docs/deploy.md, "Read replica").


@dataclass(frozen=True)
class Reads:
    """The sessions of a read-only search: `session` reads (the replica when one is configured,
    else the request's own session), `primary` is the request's session on the primary."""

    session: Session
    primary: Session

    @property
    def from_replica(self) -> bool:
        return self.session is not self.primary


@dataclass(frozen=True)
class ReadEngines:
    """The same for a search on bare connections (the SAS feed): `read` is the replica's engine
    when one is configured, else the primary's; `primary` is the primary's."""

    read: Engine
    primary: Engine

    @property
    def from_replica(self) -> bool:
        return self.read is not self.primary


# ---- Transactions ---------------------------------------------------------------------------
# One unit of work per request: the request's session is committed by the database dependency
# (app.core.dependencies.get_db) once the endpoint or page returned, and rolled back when it
# raised; services, endpoints and pages only flush. The worker and the command line commit their
# own sessions. The two helpers below are the only other places that commit, each for a reason
# its caller names.


def commit_early(session: Session, why: str) -> None:
    """Commits the request's session before its unit of work ends, for a write that must last
    whatever the answer is. `why` says so at the call site; the cases are:

    - a failed sign-in is counted although the answer is an error (a rollback would forget it,
      and the growing delay after repeated failures with it);

    Nothing else may use it: everything else is committed, or rolled back, with the request."""
    del why  # documentation at the call site, not data to log
    session.commit()


@contextmanager
def own_transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A short write transaction of its own, committed when the block ends without error and
    rolled back otherwise, apart from the request's unit of work. For writes that belong to no
    request's outcome, or that a request's transaction cannot carry:

    - the geocoding cache and the rate-limit counters (kept whatever the request's fate, and
      they never commit anybody else's work);
    - the read audit and the export's trace on SQLite: a GET's read transaction must not turn
      into a writer (SQLite fails it with "database is locked" when another writer committed
      since it began), so the entries get their own short write transaction, committed before
      the data is sent.

    On SQLite never open one while the request's own session holds the write lock (a second
    writer would wait for it until the busy timeout)."""
    with sessions() as own:
        yield own
        own.commit()


@contextmanager
def all_or_nothing(session: Session) -> Iterator[None]:
    """For a page that answers a refusal itself (its form again, a flash message) instead of
    raising, so that the request's unit of work would otherwise commit: what the block wrote
    is undone when it raises (a savepoint), and the request goes on and can still read what
    to show."""
    with session.begin_nested():
        yield


POOL_SIZE, POOL_OVERFLOW = 10, 20  # per process (uvicorn worker); PostgreSQL allows 100 by default


def build_engine(url: str) -> Engine:
    # hide_parameters: an error's message must not quote the statement's values (names,
    # birth dates, phones…), whoever prints it.
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin)
        return engine
    # Connections kept open: a request holds one for its whole length, and beyond the pool's
    # size each extra connection is opened and closed again, which on PostgreSQL (a process
    # per connection) cost more than the request itself (docs/benchmarks.md, issue 4).
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, hide_parameters=True)
    event.listen(engine.pool, "connect", _mark_used)
    event.listen(engine.pool, "checkin", _mark_used)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


# A connection that sat in the pool may have been closed by the server (a restart, a failover,
# an idle timeout): it is pinged before use, but only when it was idle for PING_AFTER_IDLE
# seconds. SQLAlchemy's pool_pre_ping pings at every checkout: one more round trip per request
# under load, when connections come back within milliseconds (the SAS feed's answer is one
# query; docs/benchmarks.md, issue 18).
PING_AFTER_IDLE = 5.0
_LAST_USED = "orientation_last_used"


def _monotonic() -> float:
    return time.monotonic()


def _mark_used(_dbapi_connection, record) -> None:
    if record is not None:
        record.info[_LAST_USED] = _monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    if _monotonic() - record.info.get(_LAST_USED, 0.0) < PING_AFTER_IDLE:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        if not getattr(dbapi_connection, "autocommit", True):
            dbapi_connection.rollback()  # the ping's own transaction, not the caller's
    except Exception as error:
        # The pool discards this connection and checks out another (up to three times).
        raise exc.DisconnectionError(type(error).__name__) from error


@cache
def get_engine() -> Engine:
    return build_engine(get_settings().database_url)


@cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Sessions for the command line, which writes."""
    return sessionmaker(bind=for_writing(get_engine()), expire_on_commit=False)


def reset_engine_cache() -> None:
    """Forget the cached engine, e.g. after the settings changed (tests, CLI options)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()

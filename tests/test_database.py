"""How the embedded SQLite database is set up."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError


def test_sqlite_runs_in_wal_mode_with_foreign_keys_enforced(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_commune_cannot_point_to_a_missing_territory(engine):
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO territory_communes (insee_code, territory_id) VALUES ('62041', 999)"))


def test_timestamps_come_back_in_utc(db, demo_territories):
    from app.territories.repository import get_by_slug

    territory = get_by_slug(db, "grand-arras")
    db.expire_all()
    assert territory.created_at.utcoffset().total_seconds() == 0


def _postgres_engine(database_url):
    from app.core.database import build_engine

    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's connections, closed by the server")
    return build_engine(database_url)


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_the_server_closed_while_idle_is_replaced_not_an_error(database_url, monkeypatch):
    """After a restart or an idle timeout, the first request on a pooled connection must not fail."""
    from app.core import database

    engine = _postgres_engine(database_url)
    clock = [1000.0]
    monkeypatch.setattr(database, "_monotonic", lambda: clock[0])
    try:
        first = _backend_pid(engine)
        killer = database.build_engine(database_url)  # another client, as the server's administrator
        with killer.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        killer.dispose()
        clock[0] += database.PING_AFTER_IDLE + 1
        assert _backend_pid(engine) != first  # checked before use, replaced, and the query ran
    finally:
        engine.dispose()


def test_a_connection_back_in_the_pool_within_seconds_is_used_without_a_ping(database_url, monkeypatch):
    """Under load a connection returns to the pool within milliseconds: no round trip is spent on
    pinging it before each request (the SAS feed answers in one query)."""
    from app.core import database

    engine = _postgres_engine(database_url)
    clock = [1000.0]
    monkeypatch.setattr(database, "_monotonic", lambda: clock[0])
    statements: list[str] = []
    real_cursor = None
    try:
        first = _backend_pid(engine)
        raw = engine.pool._pool.queue[0].dbapi_connection  # the one pooled connection
        real_cursor = raw.cursor

        def counting_cursor(*args, **kwargs):
            statements.append("cursor")
            return real_cursor(*args, **kwargs)

        raw.cursor = counting_cursor
        clock[0] += database.PING_AFTER_IDLE / 2
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        assert statements == ["cursor"]  # the query's own cursor, no ping before it
        clock[0] += database.PING_AFTER_IDLE + 1
        statements.clear()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert statements == ["cursor", "cursor"]  # idle long enough: pinged first
    finally:
        engine.dispose()

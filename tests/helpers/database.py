"""Emptying the tables between tests, and snapshots of their rows restored in one go.

Building the demo takes seconds (hundreds of doctors, requests and slots through the
services); a test that needs it gets the rows of a build made once per session instead."""

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Integer, text
from sqlalchemy.exc import ProgrammingError

from app.core.database import Base


def empty_tables(engine: Engine) -> None:
    """Every table emptied (the schema stays), the id sequences back at 1."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        return
    try:
        with engine.begin() as connection:
            # DELETE, not TRUNCATE: TRUNCATE makes new files for each of the twenty tables
            # (~0.8 s a test on this machine). The replica role lifts the audit trail's
            # append-only trigger and the foreign keys' checks, for this transaction only.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for table in Base.metadata.sorted_tables:
                connection.execute(table.delete())
            _set_sequences(connection, restart=True)
    except ProgrammingError:  # not a superuser: the slower TRUNCATE, which the trigger allows
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass(frozen=True)
class Snapshot:
    """Every table's rows, as SQLAlchemy read them (typed values: dates, JSON, booleans)."""

    rows: dict[str, list[dict]]


def take_snapshot(engine: Engine) -> Snapshot:
    """Rows in primary-key order: without ORDER BY, PostgreSQL returns them in whatever order
    its pages hold them, which differs between a database and its restored copy."""
    with engine.connect() as connection:
        return Snapshot(
            {
                table.name: [
                    dict(row)
                    for row in connection.execute(table.select().order_by(*table.primary_key.columns)).mappings()
                ]
                for table in _tables()
            }
        )


def restore(engine: Engine, snapshot: Snapshot) -> None:
    """Puts the snapshot's rows into empty tables, ids included; new rows get the next ids."""
    with engine.begin() as connection:
        for table in _tables():
            rows = snapshot.rows[table.name]
            if rows:
                connection.execute(table.insert(), rows)
        if engine.dialect.name == "postgresql":
            _set_sequences(connection, restart=False)


def _tables():
    return Base.metadata.sorted_tables


def _serial_tables() -> list[str]:
    return [
        t.name
        for t in Base.metadata.sorted_tables
        if "id" in t.columns and t.columns["id"].primary_key and isinstance(t.columns["id"].type, Integer)
    ]


def _set_sequences(connection: Connection, restart: bool) -> None:
    """PostgreSQL's id sequences: back at 1, or just past the largest id (one statement)."""
    parts = []
    for name in _serial_tables():
        sequence = f"pg_get_serial_sequence('{name}', 'id')"
        if restart:
            parts.append(f"setval({sequence}, 1, false)")
        else:
            parts.append(f"setval({sequence}, coalesce((SELECT max(id) FROM {name}), 0) + 1, false)")
    connection.execute(text("SELECT " + ", ".join(parts)))

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

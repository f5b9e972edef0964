"""/readyz: ready when the database answers AND its migrations are this code's; /healthz stays
liveness. A database one migration behind (a new version deployed before `db upgrade`) is 503."""

import os

import pytest
from fastapi.testclient import TestClient

from app.core import migrations
from app.main import create_app
from tests.helpers.operator import scratch_postgres


def _ready(settings, url: str):
    app = create_app(settings.model_copy(update={"database_url": url}))
    with TestClient(app) as client:
        answer = client.get("/readyz"), client.get("/healthz")
    app.state.engine.dispose()
    return answer


def test_ready_when_the_database_is_at_the_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "reason": None,
        "database_revision": migrations.head_revision(),
        "code_revision": migrations.head_revision(),
        "replica": None,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'behind.sqlite3'}"
        return
    base = os.environ.get("ORIENTATION_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("PostgreSQL: ORIENTATION_TEST_DATABASE_URL names none")
    with scratch_postgres(base, "readyz") as url:
        yield url


def test_not_ready_one_migration_behind_nor_before_any_migration(settings, empty_database):
    ready, alive = _ready(settings, empty_database)
    assert ready.status_code == 503
    assert ready.json()["reason"] == "migrations_not_current"
    assert ready.json()["database_revision"] is None

    migrations.upgrade("head", database_url=empty_database)
    migrations.downgrade("-1", database_url=empty_database)
    behind = migrations.current_revision(empty_database)
    assert behind is not None and behind != migrations.head_revision()
    ready, alive = _ready(settings, empty_database)
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "reason": "migrations_not_current",
        "database_revision": behind,
        "code_revision": migrations.head_revision(),
        "replica": None,
    }
    assert alive.status_code == 200  # alive all the same: no reason to restart it

    migrations.upgrade("head", database_url=empty_database)
    ready, _ = _ready(settings, empty_database)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_not_ready_when_the_database_is_unreachable(settings):
    ready, alive = _ready(settings, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert ready.status_code == 503
    assert ready.json()["reason"] == "database_unreachable"
    assert alive.status_code == 503

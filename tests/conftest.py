"""Test fixtures: a real database (SQLite, or PostgreSQL when ORIENTATION_TEST_DATABASE_URL
names one), its schema made by the Alembic migrations, and an app built on it."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.core import migrations
from app.core.database import Base, build_engine, for_writing
from app.core.settings import Settings
from app.main import create_app
from tests.fakes.ban import FakeBan

ADMIN_TOKEN = "test-admin-token"


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("ORIENTATION_TEST_DATABASE_URL", "sqlite")
    if url == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "test.sqlite3"
        return f"sqlite:///{path}"
    return url


def _empty_postgres_schema(url: str) -> None:
    engine = build_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _database_url(tmp_path_factory)
    if url.startswith("postgresql"):
        _empty_postgres_schema(url)
    migrations.upgrade("head", database_url=url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> None:
    """Every test starts from empty tables (the schema stays)."""
    if "engine" not in request.fixturenames and "client" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("engine")
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with sessionmaker(bind=for_writing(engine), expire_on_commit=False)() as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, ban_url=None, admin_token=ADMIN_TOKEN)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def fake_ban() -> Iterator[FakeBan]:
    with FakeBan() as ban:
        yield ban


@pytest.fixture
def ban_client(settings: Settings, engine: Engine, fake_ban: FakeBan) -> Iterator[TestClient]:
    """The app with the BAN configured, pointing at the fake BAN on loopback."""
    app = create_app(settings.model_copy(update={"ban_url": fake_ban.url, "ban_timeout_seconds": 0.5}))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def demo_territories(db: Session) -> None:
    from app.demo import load_demo
    from app.territories.communes import get_commune_index

    load_demo(db, get_commune_index())

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
from app.core.database import Base, build_engine
from app.core.settings import Settings
from app.main import create_app
from tests.fakes.ban import FakeBan


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
        if engine.dialect.name == "postgresql":
            # TRUNCATE: the audit trail refuses DELETE (append-only), and it is faster.
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """The test's own session. Deferred transactions, like the app's reads: a test that
    reads the database does not hold back the app's writers (SQLite)."""
    with sessionmaker(bind=engine, expire_on_commit=False)() as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Generous limits: tests submit many requests from one address (see test_abuse.py for the limits).
    return Settings(
        database_url=database_url,
        ban_url=None,
        secret_key="test-secret-key",
        intake_per_minute=100_000,
        lookups_per_minute=100_000,
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def make_account(db: Session):
    """make_account(role, cpts=[...], doctor_rpps=None) → Authorization headers of a new
    account with a personal API token."""
    from app.accounts.models import Role
    from app.accounts.principal import Principal
    from app.accounts.schemas import UserCreate
    from app.accounts.service import create_token, create_user

    counter = iter(range(1, 10_000))

    def make(role: str, cpts: list[str] | tuple[str, ...] = (), doctor_rpps: str | None = None) -> dict[str, str]:
        n = next(counter)
        user = create_user(
            db,
            UserCreate(
                email=f"{role}{n}@test.example.fr",
                display_name=f"{role} {n}",
                role=Role(role),
                password="correct horse battery",
                cpts=list(cpts),
                doctor_rpps=doctor_rpps,
            ),
            None,
        )
        principal = Principal(user.id, user.email, Role(role), user.territory_ids, user.doctor_id, None)
        secret, _ = create_token(db, principal, "tests")
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def admin_headers(make_account) -> dict[str, str]:
    return make_account("admin")


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

"""Test fixtures: a real database (SQLite, or PostgreSQL when ORIENTATION_TEST_DATABASE_URL
names one), its schema made by the Alembic migrations, an app built on it, accounts, and the
demo built once per session and restored for each test that asks for it.

Factories (territories, doctors, requests, slots, accounts) are in tests/factories.py; what
else test modules share is in tests/helpers/ and tests/browser.py."""

import os

# Before anything reads the settings: accounts are hashed with the test-only Argon2 cost
# (each standard hash is ~0.1 s of CPU, ~1 s on a loaded machine), here and in the servers
# the browser tests start, which inherit the environment.
os.environ["ORIENTATION_PASSWORD_HASH_COST"] = "test-only-cheap"

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.core import migrations  # noqa: E402
from app.core.database import build_engine  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.geocoding.service import GeocodingService, build_geocoding_service  # noqa: E402
from app.main import create_app  # noqa: E402
from tests import factories  # noqa: E402
from tests.fakes.ban import FakeBan  # noqa: E402
from tests.helpers.database import Snapshot, empty_tables, restore, take_snapshot  # noqa: E402


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


def _test_settings(database_url: str) -> Settings:
    # Generous limits: tests submit many requests from one address (see test_abuse.py for the limits).
    return Settings(
        database_url=database_url,
        ban_url=None,
        secret_key="test-secret-key",
        public_url="http://127.0.0.1:8000",  # links as a deployment sets them (unset: test_hardening_form.py)
        intake_per_minute=100_000,
        lookups_per_minute=100_000,
    )


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
    empty_tables(request.getfixturevalue("engine"))


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """The test's own session. Deferred transactions, like the app's reads: a test that
    reads the database does not hold back the app's writers (SQLite)."""
    with sessionmaker(bind=engine, expire_on_commit=False)() as session:
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    return _test_settings(database_url)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def geocoding(settings: Settings) -> GeocodingService:
    """The app's geocoding without the BAN: addresses at their commune's centroid."""
    return build_geocoding_service(settings, None)


# ---- Accounts ---------------------------------------------------------------------------------


@pytest.fixture
def make_account(db: Session):
    """make_account(role, cpts=[...], doctor_rpps=None) → Authorization headers of a new
    account with a personal API token."""
    counter = iter(range(1, 10_000))

    def make(role: str, cpts: list[str] | tuple[str, ...] = (), doctor_rpps: str | None = None) -> dict[str, str]:
        return factories.account_headers(db, role, next(counter), cpts, doctor_rpps)

    return make


@pytest.fixture
def admin_headers(make_account) -> dict[str, str]:
    return make_account("admin")


@pytest.fixture
def coordinator(make_account) -> dict[str, str]:
    """Headers of a coordinator of the Grand Arras."""
    return make_account("coordinator", ["grand-arras"])


@pytest.fixture
def other_coordinator(make_account) -> dict[str, str]:
    """Headers of a coordinator of Provence Santé, the other demo CPTS."""
    return make_account("coordinator", ["provence-sante"])


@pytest.fixture
def professional(make_account) -> dict[str, str]:
    """Headers of a professional (a pharmacist, say) of the Grand Arras."""
    return make_account("professional", ["grand-arras"])


# ---- The BAN --------------------------------------------------------------------------------


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


# ---- The demo, built once ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_snapshots(engine: Engine, database_url: str) -> dict[str, Snapshot]:
    """The demo's rows at three depths, built once: the territories; with doctors, requests
    and one account per role; with unscheduled-care slots and the SAS regulator too.
    Its dates are this session's (the slots run from today over two weeks)."""
    from app.demo import load_demo
    from app.demo_people import load_demo_accounts, load_demo_doctors, load_demo_requests
    from app.snp.demo import load_demo_regulator, load_demo_slots

    geocoding = build_geocoding_service(_test_settings(database_url), None)
    snapshots = {}
    empty_tables(engine)
    with sessionmaker(bind=engine, expire_on_commit=False)() as session:
        load_demo(session, geocoding.communes)
        session.commit()
        snapshots["territories"] = take_snapshot(engine)
        load_demo_doctors(session, geocoding, geocoding.communes)
        load_demo_requests(session, geocoding, geocoding.communes)
        load_demo_accounts(session)
        session.commit()
        snapshots["people"] = take_snapshot(engine)
        load_demo_slots(session, geocoding)
        load_demo_regulator(session)
        session.commit()
        snapshots["slots"] = take_snapshot(engine)
    empty_tables(engine)
    return snapshots


def _restore_demo(request: pytest.FixtureRequest) -> None:
    """Restores the deepest demo the test asks for, once, whichever fixture comes first."""
    if getattr(request.node, "_demo_restored", False):
        return
    names = request.fixturenames
    depth = "slots" if "demo_slots" in names else "people" if "demo" in names else "territories"
    restore(request.getfixturevalue("engine"), request.getfixturevalue("demo_snapshots")[depth])
    request.node._demo_restored = True


@pytest.fixture
def demo_territories(request: pytest.FixtureRequest, engine: Engine) -> None:
    """The two demo CPTS (Grand Arras, 32 communes; Provence Santé, 12)."""
    _restore_demo(request)


@pytest.fixture
def demo(request: pytest.FixtureRequest, engine: Engine) -> None:
    """The demo territories, their ~40 doctors, ~36 requests and one account per role
    (tests/helpers/workspace.py names them; password DEMO_PASSWORD)."""
    _restore_demo(request)


@pytest.fixture
def demo_slots(request: pytest.FixtureRequest, engine: Engine) -> None:
    """The whole demo: `demo` and two weeks of unscheduled-care slots, a centre, the SAS
    regulator with the guide's national identifier."""
    _restore_demo(request)

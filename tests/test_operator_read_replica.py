"""READ_DATABASE_URL against a real streaming replica (issue 18, "Several hosts"): a scratch
primary cluster and its hot standby (tests/helpers/replica.py), the migrations run on the
primary only, the SAS feed and the caller's search served from the replica, and the replica
lagging (replay paused): a slot booked on the primary is never offered as free, and a second
booking of it is a 409, because the booking itself always checks the primary."""

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from app.core import migrations
from app.core.database import build_engine
from app.core.settings import Settings
from app.geocoding.service import build_geocoding_service
from app.main import create_app
from tests import factories
from tests.helpers.replica import PG_BIN, Replication, binaries_missing, streaming_replica

RPPS = "10002909371"
PATIENT = {"family_name": "Durand", "given_name": "Marc", "phone": "06 11 22 33 44", "reason": "Entorse"}


@pytest.fixture(scope="module")
def replication() -> Iterator[Replication]:
    missing = binaries_missing()
    if missing:
        message = f"PostgreSQL's server binaries missing in {PG_BIN}: {', '.join(missing)} (Debian's postgresql-15)"
        if os.environ.get("ORIENTATION_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with streaming_replica() as replication:
        migrations.upgrade("head", database_url=replication.primary_url)  # on the primary only
        engine = build_engine(replication.primary_url)
        with sessionmaker(bind=engine)() as session:
            from app.demo import load_demo

            load_demo(session, build_geocoding_service(_settings(replication), None).communes)
            session.commit()
        engine.dispose()
        replication.caught_up()
        yield replication


def _settings(replication: Replication, **changes) -> Settings:
    values = {
        "database_url": replication.primary_url,
        "read_database_url": replication.replica_url,
        "ban_url": None,
        "secret_key": "test-secret-key",
        "public_url": "http://127.0.0.1:8000",
        "fhir_client_auth": "none",  # /fhir without a client certificate: test_fhir_transport has them
        "intake_per_minute": 100_000,
        "lookups_per_minute": 100_000,
    }
    return Settings(**(values | changes))


@pytest.fixture
def primary(replication: Replication) -> Iterator[Session]:
    engine = build_engine(replication.primary_url)
    with sessionmaker(bind=engine, expire_on_commit=False)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def client(replication: Replication) -> Iterator[TestClient]:
    app = create_app(_settings(replication))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()
    app.state.replica_engine.dispose()


@pytest.fixture
def replay_resumed(replication: Replication) -> Iterator[None]:
    """Whatever a test does, the replica replays again afterwards (the module shares it)."""
    yield
    replication.resume_replay()
    replication.caught_up()


_accounts = iter(range(1, 100_000))


def _coordinator(primary: Session) -> dict[str, str]:
    return factories.account_headers(primary, "coordinator", next(_accounts), ["grand-arras"])


def _doctor(client: TestClient, headers: dict[str, str], rpps: str = RPPS) -> int:
    found = client.get("/api/v1/doctors", params={"q": rpps}, headers=headers).json()["items"]
    if found:
        return found[0]["id"]
    body = {
        "cpts": "grand-arras",
        "rpps": rpps,
        "family_name": "Foret",
        "given_name": "Pierre",
        "email": f"pierre.{rpps}@example.fr",
        "phone": "05 61 85 59 77",
        "locations": [{"address": "25 chemin de Mounestie", "postcode": "62000", "city": "Arras"}],
    }
    response = client.post("/api/v1/doctors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _slot(client: TestClient, headers: dict[str, str], doctor_id: int, hours_ahead: float) -> int:
    start = (datetime.now(UTC) + timedelta(hours=hours_ahead)).replace(second=0, microsecond=0)
    body = {
        "doctor_id": doctor_id,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=20)).isoformat(),
        "kind": "AMB",
        "visibility": ["PUBLIC", "CPTS"],
    }
    response = client.post("/api/v1/snp/slots", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _feed(client: TestClient) -> set[int]:
    start = datetime.now(UTC)
    query = (
        f"/fhir/Slot?start=ge{quote(start.isoformat(timespec='milliseconds'))}"
        f"&start=le{quote((start + timedelta(days=2)).isoformat(timespec='milliseconds'))}"
        f"&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|8{RPPS}&status=free"
    )
    response = client.get(query)
    assert response.status_code == 200, response.text
    entries = response.json().get("entry", [])
    return {int(e["resource"]["id"]) for e in entries if e["resource"]["resourceType"] == "Slot"}


def _search(client: TestClient, headers: dict[str, str]) -> set[int]:
    response = client.get("/api/v1/snp/search", params={"cpts": "grand-arras"}, headers=headers)
    assert response.status_code == 200, response.text
    return {item["slot"]["id"] for item in response.json()["items"]}


def test_the_migrations_run_on_the_primary_reach_the_replica_and_readyz_reports_it(replication, client):
    assert replication.on_replica("SELECT pg_is_in_recovery()") is True
    assert replication.on_replica("SELECT version_num FROM alembic_version") == migrations.head_revision()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["replica"] == "standby"


def test_readyz_is_not_ready_when_the_replica_does_not_answer(replication):
    from tests.helpers.operator import free_port

    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/orientation"
    app = create_app(_settings(replication, read_database_url=closed))
    with TestClient(app) as client:
        ready = client.get("/readyz")
    app.state.engine.dispose()
    assert ready.status_code == 503
    assert ready.json()["reason"] == "replica_unreachable" and ready.json()["replica"] == "unreachable"


def test_the_feed_and_the_caller_search_read_the_replica(replication, client, primary, replay_resumed):
    headers = _coordinator(primary)
    doctor_id = _doctor(client, headers)
    replication.caught_up()
    replication.pause_replay()
    # Written on the primary while the replica applies nothing: free there, not yet here.
    slot_id = _slot(client, headers, doctor_id, hours_ahead=5)
    assert replication.on_primary(f"SELECT status FROM snp_slots WHERE id = {slot_id}") == "free"
    assert replication.on_replica(f"SELECT count(*) FROM snp_slots WHERE id = {slot_id}") == 0
    assert slot_id not in _feed(client)
    assert slot_id not in _search(client, headers)
    # The board of the slots (a page of those who publish them) reads the primary: it is there.
    board = client.get("/api/v1/snp/slots", headers=headers).json()["items"]
    assert slot_id in {s["id"] for s in board}

    replication.resume_replay()
    replication.caught_up()
    assert slot_id in _feed(client)
    assert slot_id in _search(client, headers)


def test_a_slot_booked_on_the_primary_is_never_offered_by_a_lagging_replica(
    replication, client, primary, replay_resumed
):
    headers = _coordinator(primary)
    doctor_id = _doctor(client, headers)
    slot_id = _slot(client, headers, doctor_id, hours_ahead=7)
    other_id = _slot(client, headers, doctor_id, hours_ahead=8)
    replication.caught_up()
    found = _search(client, headers)  # what a coordinator has on screen
    assert {slot_id, other_id} <= found and {slot_id, other_id} <= _feed(client)

    replication.pause_replay()
    booked = client.post(f"/api/v1/snp/slots/{slot_id}/bookings", json=PATIENT, headers=headers)
    assert booked.status_code == 201, booked.text
    # The replica, lagging, still has the slot free…
    assert replication.on_replica(f"SELECT status FROM snp_slots WHERE id = {slot_id}") == "free"
    # …but neither the SAS feed nor the caller's search offers it; the other slot still is.
    feed, search = _feed(client), _search(client, headers)
    assert slot_id not in feed and slot_id not in search
    assert other_id in feed and other_id in search
    # A second caller books from the list they had: the booking checks the primary.
    again = client.post(f"/api/v1/snp/slots/{slot_id}/bookings", json=PATIENT | {"given_name": "Paul"}, headers=headers)
    assert again.status_code == 409, again.text

    replication.resume_replay()
    replication.caught_up()
    assert replication.on_replica(f"SELECT status FROM snp_slots WHERE id = {slot_id}") == "booked"
    assert slot_id not in _feed(client) and slot_id not in _search(client, headers)
    assert other_id in _feed(client)


def test_the_suggestions_find_a_request_just_made_while_the_replica_lags(replication, client, primary, replay_resumed):
    headers = _coordinator(primary)
    _doctor(client, headers)
    replication.caught_up()
    replication.pause_replay()
    made = client.post("/api/v1/requests", json=factories.answers(patient_consent_attested=True), headers=headers)
    assert made.status_code == 201, made.text
    request_id = made.json()["id"]
    assert replication.on_replica(f"SELECT count(*) FROM patient_requests WHERE id = {request_id}") == 0
    # The request is read on the primary (just made), the doctors ranked from the replica.
    suggested = client.get(f"/api/v1/requests/{request_id}/suggestions", headers=headers)
    assert suggested.status_code == 200, suggested.text
    assert suggested.json()["request_id"] == request_id


def test_read_database_url_is_a_postgresql_replica_of_a_postgresql_primary():
    with pytest.raises(ValidationError, match="READ_DATABASE_URL"):
        Settings(database_url="sqlite:///x.sqlite3", read_database_url="postgresql+psycopg://h/db")
    with pytest.raises(ValidationError, match="READ_DATABASE_URL"):
        Settings(database_url="postgresql+psycopg://h/db", read_database_url="sqlite:///x.sqlite3")
    assert Settings(database_url="postgresql+psycopg://h/db", read_database_url=" ").read_database_url is None

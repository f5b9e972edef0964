"""/metrics: closed unless a setting opens it; request latencies by route template; the outbox,
the SAS push, the retention runs and the workers read from the database at scrape time; and
with two uvicorn workers, every request counted once whichever process answers the scrape."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing
from app.main import create_app
from app.notifications.models import MessageStatus
from app.notifications.outbox import OutboxWorker, enqueue
from app.privacy import retention
from tests.factories import submit
from tests.helpers.operator import free_port, serving

TOKEN = "a-scraper-token-of-the-operator"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) → value."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(body: str, name: str, **labels: str) -> float:
    return samples(body)[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def scraper(settings, engine):
    """A client of an app whose /metrics opens to the token."""
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_metrics_are_closed_by_default_even_to_an_admin(client, admin_headers):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=admin_headers).status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


def test_the_token_opens_them_and_nothing_else_does(scraper, admin_headers):
    assert scraper.get("/metrics").status_code == 401
    assert scraper.get("/metrics", headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    assert scraper.get("/metrics", headers=admin_headers).status_code == 401  # an account's token is not it
    response = scraper.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert value(response.text, "orientation_database_up") == 1
    assert value(response.text, "orientation_schema_at_head") == 1


def test_an_allow_list_of_addresses_opens_them_to_those_only(settings, engine):
    app = create_app(settings.model_copy(update={"metrics_allowed_clients": "10.0.0.0/8, 192.0.2.7"}))
    with TestClient(app, client=("192.0.2.7", 40000)) as allowed:
        assert allowed.get("/metrics").status_code == 200
    with TestClient(app, client=("192.0.2.8", 40000)) as other:
        assert other.get("/metrics").status_code == 404
    both = create_app(settings.model_copy(update={"metrics_allowed_clients": "10.0.0.0/8", "metrics_token": TOKEN}))
    with TestClient(both, client=("10.1.2.3", 40000)) as inside:
        assert inside.get("/metrics").status_code == 401  # the address is not enough when a token is set
        assert inside.get("/metrics", headers=AUTH).status_code == 200
    app.state.engine.dispose()
    both.state.engine.dispose()


def test_latencies_are_by_route_template_and_carry_no_personal_data(scraper, demo_territories, coordinator):
    created = submit(scraper, family_name="Zéphyrine", given_name="Octavie", city="Arras", postcode="62000")
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    assert scraper.get(f"/api/v1/requests/{request_id}", headers=coordinator).status_code == 200
    assert scraper.get("/api/v1/territories/grand-arras").status_code == 200
    assert scraper.get("/api/v1/residency", params={"postcode": "62217", "city": "Mercatel"}).status_code == 200

    body = scraper.get("/metrics", headers=AUTH).text
    name = "orientation_http_request_duration_seconds_count"
    route = {"method": "GET", "status": "200"}
    assert value(body, name, route="/api/v1/requests/{request_id}", **route) >= 1
    assert value(body, name, route="/api/v1/territories/{slug}", **route) >= 1
    assert value(body, name, route="/api/v1/requests", method="POST", status="201") >= 1
    labels = {value for (_, pairs) in samples(body) for _, value in pairs}
    for personal in ("Zéphyrine", "Octavie", "Mercatel", "62217", "62000", f"/requests/{request_id}", "grand-arras"):
        assert not any(personal in label for label in labels), personal
        if not personal.isdigit():  # digits may well be part of a figure
            assert personal not in body, personal


def test_outbox_depth_and_age_and_sas_push_failures_come_from_the_database(scraper, db):
    first = enqueue(db, kind="outcome", channel="email", recipient="a@example.fr", subject="s", body="b")
    enqueue(db, kind="outcome", channel="sms", recipient="+33612345678", body="b")
    given_up = enqueue(db, kind="sas_appointment", channel="sas", recipient="POST Appointment", body="{}")
    retrying = enqueue(db, kind="sas_appointment", channel="sas", recipient="PUT Appointment", body="{}")
    db.commit()
    given_up.status, given_up.last_error = MessageStatus.FAILED.value, "sas 400 invalid"
    retrying.last_error, retrying.attempts = "sas 503", 1
    db.commit()
    scraper.app.state.clock = lambda: first.created_at + timedelta(minutes=5)

    body = scraper.get("/metrics", headers=AUTH).text
    assert value(body, "orientation_outbox_messages", channel="email", status="pending") == 1
    assert value(body, "orientation_outbox_messages", channel="sas", status="pending") == 1
    assert value(body, "orientation_outbox_messages", channel="sas", status="failed") == 1
    assert value(body, "orientation_outbox_messages", channel="email", status="failed") == 0
    age = value(body, "orientation_outbox_oldest_pending_age_seconds", channel="email")
    assert 299 <= age <= 301
    assert value(body, "orientation_sas_push_failed_messages") == 1
    assert value(body, "orientation_sas_push_retrying_messages") == 1
    assert "a@example.fr" not in body and "+33612345678" not in body


def test_retention_runs_are_counted_with_the_last_ones_figures(scraper, db, settings):
    body = scraper.get("/metrics", headers=AUTH).text
    assert value(body, "orientation_retention_runs") == 0
    assert value(body, "orientation_retention_last_run_timestamp_seconds") == 0
    moment = datetime(2026, 11, 3, 4, 0, tzinfo=UTC)
    retention.run(db, settings, moment)
    body = scraper.get("/metrics", headers=AUTH).text
    assert value(body, "orientation_retention_runs") == 1
    assert value(body, "orientation_retention_last_run_timestamp_seconds") == moment.timestamp()
    assert value(body, "orientation_retention_last_run_rows", kind="requests_closed") == 0


def test_a_workers_heartbeat_shows_it_alive_then_dead_then_gone(scraper, settings, engine):
    start = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    now = [start]
    worker = OutboxWorker(settings, sessionmaker(bind=for_writing(engine)), senders={}, clock=lambda: now[0])
    scraper.app.state.clock = lambda: now[0]
    assert value(scraper.get("/metrics", headers=AUTH).text, "orientation_worker_last_heartbeat_age_seconds") == -1

    assert worker.heartbeat_if_due()
    now[0] = start + timedelta(seconds=10)
    assert not worker.heartbeat_if_due()  # not due yet
    body = scraper.get("/metrics", headers=AUTH).text
    assert value(body, "orientation_workers_alive") == 1
    assert value(body, "orientation_worker_last_heartbeat_age_seconds") == 10

    now[0] = start + timedelta(minutes=10)  # the worker died: no heartbeat since
    body = scraper.get("/metrics", headers=AUTH).text
    assert value(body, "orientation_workers_alive") == 0
    assert value(body, "orientation_worker_last_heartbeat_age_seconds") == 600

    assert worker.heartbeat_if_due()  # it came back
    assert value(scraper.get("/metrics", headers=AUTH).text, "orientation_workers_alive") == 1
    worker.stopped()
    assert value(scraper.get("/metrics", headers=AUTH).text, "orientation_workers_alive") == 0


def test_two_uvicorn_workers_count_every_request_once(database_url, engine, tmp_path):
    """Multiprocess mode: each process writes its histograms to PROMETHEUS_MULTIPROC_DIR, and
    whichever process answers the scrape adds them all up."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "histogram_4242.db").write_bytes(b"stale: from a previous run")
    env = {
        "ORIENTATION_DATABASE_URL": database_url,
        "ORIENTATION_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with serving("--port", str(port), "--workers", "2", url=base, **env):
        for _ in range(40):  # a new connection each: the two processes share the listening socket
            assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        writers = {path.name for path in metrics_dir.glob("histogram_*.db")}
        scrapes = [httpx.get(f"{base}/metrics", headers=AUTH, timeout=10) for _ in range(6)]
    assert "histogram_4242.db" not in writers  # the stale file was removed at start
    assert len(writers) == 2, writers  # both processes answered some of the requests
    for scrape in scrapes:
        assert scrape.status_code == 200
        count = value(
            scrape.text, "orientation_http_request_duration_seconds_count", method="GET", route="/readyz", status="200"
        )
        assert count == 40


def test_a_bad_allow_list_stops_the_service_at_start():
    from pydantic import ValidationError

    from app.core.settings import Settings

    with pytest.raises(ValidationError, match="METRICS_ALLOWED_CLIENTS"):
        Settings(metrics_allowed_clients="10.0.0.0/8, nonsense")

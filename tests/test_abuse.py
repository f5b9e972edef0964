"""The public endpoints against abuse: rate limits per address, body size, the honeypot."""

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.factories import answers

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def limited(settings, engine):
    def make(store: str) -> TestClient:
        app = create_app(
            settings.model_copy(update={"intake_per_minute": 3, "lookups_per_minute": 5, "rate_limit_store": store})
        )
        return TestClient(app)

    return make


@pytest.mark.parametrize("store", ["memory", "database"])
def test_intake_is_limited_per_client_address(limited, store):
    with limited(store) as client:
        statuses = [client.post("/api/v1/requests", json=answers(given_name=f"P{i}")).status_code for i in range(5)]
        assert statuses[:3] == [201, 201, 201]
        assert statuses[3:] == [429, 429]
        refused = client.post("/api/v1/requests", json=answers())
        assert int(refused.headers["retry-after"]) <= 60
        assert "réessayez" in refused.json()["message"]
        # Claiming another address in X-Forwarded-For does not get round it: the header is
        # believed only behind a trusted proxy (ORIENTATION_TRUST_FORWARDED_FOR).
        spoofed = client.post("/api/v1/requests", json=answers(given_name="Z"), headers={"X-Forwarded-For": "10.0.0.9"})
        assert spoofed.status_code == 429


def test_the_database_store_holds_across_workers(limited):
    """Two app instances (as two workers) share the counts kept in the database."""
    with limited("database") as first, limited("database") as second:
        assert [first.post("/api/v1/requests", json=answers(given_name=f"A{i}")).status_code for i in range(2)] == [
            201,
            201,
        ]
        assert second.post("/api/v1/requests", json=answers(given_name="B")).status_code == 201
        assert second.post("/api/v1/requests", json=answers(given_name="C")).status_code == 429


def test_lookups_are_limited_too(limited):
    with limited("memory") as client:
        statuses = [client.get("/api/v1/communes", params={"postcode": "62217"}).status_code for _ in range(7)]
        assert statuses.count(429) == 2


def test_oversized_bodies_are_refused_before_being_read(client):
    response = client.post(
        "/api/v1/requests", content=b"{" + b" " * 300_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_oversized_form_posts_are_refused(client):
    assert client.post("/", data={"comment": "x" * 300_000}).status_code == 413

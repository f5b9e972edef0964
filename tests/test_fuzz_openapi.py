"""Property-based fuzzing of the whole OpenAPI document (schemathesis), from the ASGI app.

Every documented operation is called with generated inputs, valid and invalid, anonymously and
with a coordinator's token, on the database the suite runs on (SQLite, then PostgreSQL). A 5xx,
or a response whose status code, content type or body the document does not declare, fails.
The number of examples per operation is bounded (and derandomized) so the module stays well
within CI's time; `ORIENTATION_FUZZ_EXAMPLES` raises it for a longer hunt."""

import os
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from app.core.settings import Settings
from app.main import create_app

MAX_EXAMPLES = int(os.environ.get("ORIENTATION_FUZZ_EXAMPLES", "10"))
WITH_COVERAGE_PHASE = os.environ.get("ORIENTATION_FUZZ_COVERAGE") == "1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DEMO_COORDINATOR = "coordination@cpts-grand-arras.example.fr"


@pytest.fixture
def fuzzed_app(settings: Settings, demo_slots) -> Iterator[tuple]:
    """The app on the suite's database, with the demo's territories, doctors, requests, slots
    and accounts (so that ids hit real rows), and the Grand Arras coordinator's token."""
    # /fhir opened on purpose, so that its handlers are fuzzed too (closed by default: 401).
    app = create_app(settings.model_copy(update={"fhir_client_auth": "none"}))
    with TestClient(app) as client:
        token = _coordinator_token(client)
        yield app, {"Authorization": f"Bearer {token}"}
    app.state.engine.dispose()


def _coordinator_token(client: TestClient) -> str:
    from app.demo_people import DEMO_PASSWORD

    login = client.post("/api/v1/auth/login", json={"email": DEMO_COORDINATOR, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    csrf = login.json()["csrf_token"]
    made = client.post("/api/v1/auth/tokens", json={"name": "fuzz"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    client.cookies.clear()
    return made.json()["token"]


@pytest.fixture
def fuzz_schema(fuzzed_app, request: pytest.FixtureRequest):
    app, _ = fuzzed_app
    # schemathesis 4.32 renames the running test through the node's `_nodeid`, which pytest 9
    # no longer sets: give it one (the reports then name each operation).
    request.node._nodeid = request.node.nodeid
    # The coverage phase (every boundary of every parameter, ~50 calls an operation here) is
    # left for longer hunts: the suite keeps to MAX_EXAMPLES an operation.
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": WITH_COVERAGE_PHASE}}})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, fuzzed_app):
    _, coordinator = fuzzed_app
    case.call_and_validate(checks=CHECKS)
    case.call_and_validate(headers=coordinator, checks=CHECKS)

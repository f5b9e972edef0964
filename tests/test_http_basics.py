"""Health check, error shapes, the OpenAPI document, and logs without personal data."""

import json
import logging
from pathlib import Path

from app.core.logging import configure_logging
from app.openapi import render_openapi

OPENAPI_FILE = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_healthz_checks_the_database(client, demo_territories):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "territories": 2}


def test_healthz_is_503_when_the_database_is_unreachable(settings, tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app

    broken = settings.model_copy(update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    with TestClient(create_app(broken)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_unknown_route_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "Ressource introuvable.", "fields": []}


def test_malformed_json_body_is_a_422_not_a_500(client, admin_headers):
    response = client.post(
        "/api/v1/territories",
        content=b"{not json",
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


def test_openapi_document_is_up_to_date():
    assert OPENAPI_FILE.exists(), "run `orientation openapi`"
    assert OPENAPI_FILE.read_text(encoding="utf-8") == render_openapi(), (
        "openapi/openapi.json is stale: run `orientation openapi`"
    )


def test_request_logs_are_json_and_carry_no_personal_data(client, demo_territories, capsys):
    configure_logging("INFO")
    try:
        client.get(
            "/api/v1/residency",
            params={"postcode": "62217", "city": "Tilloy-lès-Mofflaines", "address": "5 rue de Cambrai"},
        )
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("message") == "request"]
    assert request_lines, lines
    entry = request_lines[-1]
    assert entry["route"] == "/api/v1/residency"
    assert entry["status"] == 200
    everything = json.dumps(lines, ensure_ascii=False)
    for personal in ("62217", "Tilloy", "Cambrai"):
        assert personal not in everything

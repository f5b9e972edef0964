"""The `orientation` command, run as a user runs it (a separate process on the test database)."""

import socket
import subprocess
import time

import httpx
import pytest

from tests.helpers.cli import ORIENTATION, command_env, run


def test_demo_creates_both_territories_and_running_it_again_changes_nothing(database_url, engine, client):
    first = run(database_url, "demo")
    assert first.returncode == 0, first.stderr
    assert "created grand-arras (32 communes)" in first.stdout
    assert "created provence-sante (12 communes)" in first.stdout
    assert "40 demo doctors added" in first.stdout
    assert "36 demo requests added" in first.stdout
    # The national directory's demo: every volunteer, and 30 GPs of the Grand Arras who are not.
    assert "demo directory, CPTS du Grand Arras: 55 GPs (25 volunteers), 55 added, 0 gone" in first.stdout
    assert "demo directory, CPTS Provence Santé: 16 GPs (16 volunteers), 16 added, 0 gone" in first.stdout
    second = run(database_url, "demo")
    assert second.returncode == 0, second.stderr
    assert "unchanged grand-arras" in second.stdout and "unchanged provence-sante" in second.stdout
    assert "0 demo doctors added" in second.stdout and "0 demo requests added" in second.stdout
    assert "demo directory, CPTS du Grand Arras: 55 GPs (25 volunteers), 0 added, 0 gone" in second.stdout
    listed = run(database_url, "territories", "list")
    assert listed.stdout.count("\n") == 2
    # The accounts it prints work, one per role, and see the demo doctors as their role allows.
    password = second.stdout.split("password for all: ")[1].split(")")[0]
    for role in ("admin", "coordinator", "professional", "doctor", "regulator"):
        email = next(line.split()[1] for line in second.stdout.splitlines() if line.strip().startswith(role))
        response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, (role, response.text)
        assert response.json()["user"]["role"] == role
    client.post("/api/v1/auth/login", json={"email": "coordination@cpts-grand-arras.example.fr", "password": password})
    doctors = client.get("/api/v1/doctors", params={"per_page": 100}).json()
    # 24 demo doctors, and the SAS guide's example practitioner (Dr Pierre Foret).
    assert doctors["total"] == 25 and {d["cpts"] for d in doctors["items"]} == {"grand-arras"}
    assert any(d["stale"] for d in doctors["items"]) and any(
        d["availability"]["accepting_new_patients"] for d in doctors["items"]
    )
    queue = client.get("/api/v1/requests", params={"status": ["received", "proposed", "matched", "closed"]}).json()
    assert {r["status"] for r in queue["items"]} == {"received", "proposed", "matched", "closed"}
    assert {r["cpts"] for r in queue["items"]} == {"grand-arras"}


def test_territory_created_from_the_command_line(database_url, engine, tmp_path):
    communes = tmp_path / "communes.txt"
    communes.write_text("# one a line\n62119\n62400 Essars\n", encoding="utf-8")
    result = run(
        database_url,
        "territories",
        "create",
        "--slug",
        "artois-lys",
        "--name",
        "CPTS Artois Lys",
        "--finess",
        "620000026",
        "--phone",
        "0321112233",
        "--email",
        "contact@example.fr",
        "--commune",
        "62400 Locon",
        "--communes-file",
        str(communes),
    )
    assert result.returncode == 0, result.stderr
    assert "created artois-lys (3 communes)" in result.stdout


@pytest.mark.usefixtures("demo_territories")
def test_overlap_from_the_command_line_is_a_readable_error(database_url, engine):
    result = run(
        database_url,
        "territories",
        "create",
        "--slug",
        "x-cpts",
        "--name",
        "CPTS X",
        "--finess",
        "620000026",
        "--phone",
        "0321112233",
        "--email",
        "x@example.fr",
        "--commune",
        "62041",
    )
    assert result.returncode == 1
    assert "Arras 62041 (CPTS du Grand Arras)" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_finess_from_the_command_line(database_url, engine):
    result = run(
        database_url,
        "territories",
        "create",
        "--slug",
        "x-cpts",
        "--name",
        "CPTS X",
        "--finess",
        "123",
        "--phone",
        "0321112233",
        "--email",
        "x@example.fr",
        "--commune",
        "62041",
    )
    assert result.returncode == 2
    assert "finess" in result.stderr


def test_first_admin_is_created_from_the_command_line(database_url, engine, client):
    result = run(
        database_url, "users", "create", "--email", "Admin@Example.fr", "--role", "admin", "--generate-password"
    )
    assert result.returncode == 0, result.stderr
    password = result.stdout.split("password: ")[1].strip()
    response = client.post("/api/v1/auth/login", json={"email": "admin@example.fr", "password": password})
    assert response.status_code == 200
    again = run(
        database_url, "users", "create", "--email", "admin@example.fr", "--role", "admin", "--generate-password"
    )
    assert again.returncode == 1 and "existe déjà" in again.stderr
    coordinator = run(
        database_url,
        "users",
        "create",
        "--email",
        "c@example.fr",
        "--role",
        "coordinator",
        "--password",
        "a long enough password",
    )
    assert coordinator.returncode == 1 and "au moins une CPTS" in coordinator.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_healthz(database_url, engine):
    port = _free_port()
    env = command_env(ORIENTATION_DATABASE_URL=database_url)
    server = subprocess.Popen(
        [ORIENTATION, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert '"route": "/healthz"' in output  # JSON request log

"""Several hosts on one PostgreSQL, as a region would run them: two `orientation serve`
processes on their own ports and two `orientation worker` processes, sharing only the database
(and the settings). A session made on one host is valid on the other; the rate limits hold
across both; of concurrent bookings of one slot across the two, one gets 201; every outbox
message reaches the (real, loopback) SMTP server once.

Real processes on the real clock: the waits below are for other processes, bounded."""

import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from app.notifications.models import MessageStatus, OutboxMessage
from tests import factories
from tests.fakes.smtp import SmtpServer
from tests.helpers.cli import ORIENTATION, command_env
from tests.helpers.operator import free_port, serving

pytestmark = pytest.mark.skipif(
    not os.environ.get("ORIENTATION_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="several hosts share one PostgreSQL: run with ORIENTATION_TEST_DATABASE_URL=postgresql…",
)

INTAKE_LIMIT = 5
TOKEN = "scraper-token-of-the-region"
PATIENT = {"family_name": "Durand", "given_name": "Marc", "phone": "06 11 22 33 44", "reason": "Entorse"}


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def region(client, demo_territories, db, database_url, smtp, tmp_path):
    """The data (in-process), then two hosts and two workers on the tests' PostgreSQL."""
    coordinator = factories.account_headers(db, "coordinator", 901, ["grand-arras"])
    doctor_id = factories.add_doctor(client, coordinator, 31, "Arras", "62000")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    slot = client.post(
        "/api/v1/snp/slots",
        json={"doctor_id": doctor_id, "start": start.isoformat(), "end": (start + timedelta(minutes=20)).isoformat()},
        headers=coordinator,
    )
    assert slot.status_code == 201, slot.text
    ports = [free_port(), free_port()]
    env = {
        "ORIENTATION_DATABASE_URL": database_url,
        "ORIENTATION_SECRET_KEY": "the-same-secret-key-on-every-host-of-the-region",
        "ORIENTATION_RATE_LIMIT_STORE": "database",
        "ORIENTATION_INTAKE_PER_MINUTE": str(INTAKE_LIMIT),
        "ORIENTATION_PUBLIC_URL": "http://127.0.0.1:8000",
        "ORIENTATION_SMTP_HOST": "127.0.0.1",
        "ORIENTATION_SMTP_PORT": str(smtp.port),
        "ORIENTATION_SMS_FILE": str(tmp_path / "sms.log"),
        "ORIENTATION_METRICS_TOKEN": TOKEN,
    }
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    with (
        serving("--no-migrate", "--port", str(ports[0]), url=bases[0], **env),
        serving("--no-migrate", "--port", str(ports[1]), url=bases[1], **env),
    ):
        workers = [
            subprocess.Popen(
                [ORIENTATION, "worker", "--interval", "0.2"],
                env=command_env(**env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        try:
            yield {
                "bases": bases,
                "slot": slot.json()["id"],
                "coordinator": coordinator,
                "email": "coordinator901@test.example.fr",
            }
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(20)


def _one_minute_window() -> None:
    """The limits count in fixed one-minute windows: start well inside one."""
    if datetime.now(UTC).second > 40:
        time.sleep(61 - datetime.now(UTC).second)


def test_two_hosts_and_two_workers_behave_as_one_service(region, db, smtp):
    a, b = region["bases"]
    _one_minute_window()
    minute = datetime.now(UTC).replace(second=0, microsecond=0)

    # A session made on one host is valid on the other.
    signed_in = httpx.post(
        f"{a}/api/v1/auth/login", json={"email": region["email"], "password": factories.PASSWORD}, timeout=10
    )
    assert signed_in.status_code == 200, signed_in.text
    me = httpx.get(f"{b}/api/v1/auth/me", cookies=signed_in.cookies, timeout=10)
    assert me.status_code == 200 and me.json()["email"] == region["email"]
    page = httpx.get(f"{b}/espace/demandes", cookies=signed_in.cookies, timeout=10)
    assert page.status_code == 200 and "connexion" not in str(page.url)

    # The rate limit holds across both: one budget for the address, whichever host counts.
    codes = [
        httpx.post(
            f"{(a, b)[n % 2]}/api/v1/requests",
            json=factories.answers(
                family_name=f"Hôte{n}", given_name=f"Lou{n}", preferred_channel="email", email=f"patient{n}@example.fr"
            ),
            timeout=10,
        ).status_code
        for n in range(2 * INTAKE_LIMIT)
    ]
    assert datetime.now(UTC).replace(second=0, microsecond=0) == minute, "crossed a minute: the windows reset"
    assert codes.count(201) == INTAKE_LIMIT  # each host alone would have let 2 × INTAKE_LIMIT in
    assert codes.count(429) == INTAKE_LIMIT

    # Concurrent bookings of one slot across the two hosts: one 201, the others 409.
    barrier = threading.Barrier(8)
    outcomes: list[int] = []

    def book(n: int) -> None:
        barrier.wait()
        response = httpx.post(
            f"{(a, b)[n % 2]}/api/v1/snp/slots/{region['slot']}/bookings",
            json=PATIENT | {"given_name": f"Marc{n}", "email": f"marc{n}@example.fr"},
            headers=region["coordinator"],
            timeout=30,
        )
        outcomes.append(response.status_code)

    threads = [threading.Thread(target=book, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == [201] + [409] * 7

    # Both workers alive, as either host's /metrics tells.
    deadline = time.monotonic() + 30
    while True:
        scrape = httpx.get(f"{b}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
        if "orientation_workers_alive 2.0" in scrape:
            break
        assert time.monotonic() < deadline, scrape
        time.sleep(0.2)

    # Every message delivered once, by one of the two workers.
    deadline = time.monotonic() + 60
    while True:
        db.expire_all()
        messages = list(db.scalars(select(OutboxMessage)))
        if messages and all(m.status == MessageStatus.SENT.value for m in messages):
            break
        assert time.monotonic() < deadline, [(m.channel, m.status, m.last_error) for m in messages]
        time.sleep(0.2)
    emails = [m for m in messages if m.channel == "email"]
    assert len(emails) >= INTAKE_LIMIT  # the receipts at least
    assert all(m.attempts == 1 for m in messages)  # claimed once: never by both workers
    received = [str(message["Message-ID"]) for message in smtp.messages]
    assert len(received) == len(set(received)) == len(emails)
    accepted = {f"patient{n}@example.fr" for n, code in enumerate(codes) if code == 201}
    assert {str(message["To"]) for message in smtp.messages if "patient" in str(message["To"])} == accepted

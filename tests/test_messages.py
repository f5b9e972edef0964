"""Messages to patients through the outbox: real SMTP on loopback, SMS through a provider."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing, utcnow
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.notifications.senders import HttpSmsSender, SmtpSender
from tests.factories import add_doctor
from tests.factories import submit as submit_form
from tests.fakes.smtp import SmtpServer

pytestmark = pytest.mark.usefixtures("demo_territories")


def submit(client, **changes):
    """A request whose receipt (tests/test_hardening_form.py) is out of the way: these tests
    are about the messages that follow it."""
    response = submit_form(client, **changes)
    with client.app.state.write_sessions() as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.kind == "receipt"))
        session.commit()
    return response


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_for(settings, engine):
    def make(smtp_server: SmtpServer, sms=None) -> OutboxWorker:
        configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port})
        senders = {"email": SmtpSender(configured), "sms": sms}
        return OutboxWorker(configured, sessionmaker(bind=for_writing(engine)), senders)

    return make


def send_list(client, headers, request_id, doctor_ids, channel="email"):
    return client.post(
        f"/api/v1/requests/{request_id}/send-list", json={"doctor_ids": doctor_ids, "channel": channel}, headers=headers
    )


def test_sending_the_list_emails_the_patient_once(client, coordinator, smtp, worker_for):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client, preferred_channel="email").json()["id"]
    response = send_list(client, coordinator, request_id, [doctor])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "proposed"
    assert [(m["kind"], m["channel"], m["status"]) for m in body["messages"]] == [("doctor_list", "email", "pending")]
    worker = worker_for(smtp)
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert len(smtp.messages) == 1
    email = smtp.messages[0]
    assert email["To"] == "anne@example.fr"
    assert email["Subject"] == "Des médecins qui peuvent devenir votre médecin traitant"
    text = email.get_content()
    assert "Bonjour Anne" in text and "Dr Test Docteur1" in text and "CPTS du Grand Arras" in text
    detail = client.get(f"/api/v1/requests/{request_id}", headers=coordinator).json()
    assert detail["messages"][0]["status"] == "sent" and detail["messages"][0]["sent_at"]


def test_smtp_down_then_back_the_email_arrives_once(client, coordinator, smtp, worker_for):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client, preferred_channel="email").json()["id"]
    smtp.stop()
    send_list(client, coordinator, request_id, [doctor])
    worker = worker_for(smtp)
    assert worker.run_once() == 0
    message = client.get(f"/api/v1/requests/{request_id}", headers=coordinator).json()["messages"][0]
    assert (message["status"], message["attempts"]) == ("pending", 1)
    assert message["last_error"] and "anne" not in message["last_error"]
    smtp.start()
    assert worker.run_once() == 0  # not due yet: backoff
    later = utcnow() + timedelta(minutes=5)
    assert worker.run_once(now=later) == 1
    assert worker.run_once(now=later + timedelta(hours=1)) == 0
    assert len(smtp.messages) == 1


def test_a_message_abandoned_by_a_crashed_worker_is_sent_after_its_lease(client, coordinator, smtp, worker_for, db):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client, preferred_channel="email").json()["id"]
    send_list(client, coordinator, request_id, [doctor])
    worker = worker_for(smtp)
    claimed = worker._claim(utcnow(), 10)  # a worker claims it, then dies before sending
    assert len(claimed) == 1
    assert worker.run_once() == 0  # leased: nobody else takes it meanwhile
    assert worker.run_once(now=utcnow() + timedelta(minutes=3)) == 1
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["Message-ID"] == f"<{claimed[0].key}@127.0.0.1>"


def test_nothing_is_queued_when_the_change_is_refused(client, coordinator, db):
    request_id = submit(client, preferred_channel="email").json()["id"]
    assert send_list(client, coordinator, request_id, [999]).status_code == 422
    assert db.query(OutboxMessage).count() == 0
    assert client.get(f"/api/v1/requests/{request_id}", headers=coordinator).json()["status"] == "received"


def test_preview_shows_the_sms_without_sending(client, coordinator, db):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client).json()["id"]  # prefers SMS
    response = client.post(
        f"/api/v1/requests/{request_id}/messages/preview", json={"doctor_ids": [doctor]}, headers=coordinator
    )
    assert response.status_code == 200
    preview = response.json()
    assert preview["channel"] == "sms" and preview["recipient"] == "+33612345678" and preview["subject"] is None
    assert preview["body"].startswith("CPTS du Grand Arras : médecins qui peuvent vous suivre : Dr Test Docteur1")
    assert db.query(OutboxMessage).count() == 0


def test_email_channel_without_an_address_is_refused(client, coordinator):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client, email=None).json()["id"]
    response = send_list(client, coordinator, request_id, [doctor], channel="email")
    assert response.status_code == 422 and response.json()["fields"][0]["field"] == "channel"


class _SmsProvider:
    """A stand-in SMS provider on loopback: records the JSON it receives, answers `status`."""

    def __init__(self, status: int = 202) -> None:
        provider = self
        self.received: list[dict] = []
        self.status = status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                provider.received.append({"auth": self.headers["Authorization"], **json.loads(self.rfile.read(length))})
                self.send_response(provider.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


def test_outcome_is_sent_by_sms_through_the_provider(client, coordinator, smtp, worker_for):
    provider = _SmsProvider()
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client).json()["id"]
    url = f"/api/v1/requests/{request_id}/transitions"
    client.post(url, json={"to": "proposed"}, headers=coordinator)
    client.post(url, json={"to": "matched", "doctor_id": doctor, "notify": True}, headers=coordinator)
    worker = worker_for(smtp, HttpSmsSender(provider.url, "secret-key", "CPTS"))
    assert worker.run_once() == 1
    [sms] = provider.received
    assert sms["to"] == "+33612345678" and sms["auth"] == "Bearer secret-key"
    assert sms["text"].startswith("CPTS du Grand Arras : le Dr Test Docteur1 (")
    assert "accepte de devenir votre médecin traitant" in sms["text"]
    provider.server.shutdown()


def test_a_refused_sms_is_not_retried_for_ever(client, coordinator, smtp, worker_for):
    provider = _SmsProvider(status=400)
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client).json()["id"]
    send_list(client, coordinator, request_id, [doctor], channel="sms")
    worker = worker_for(smtp, HttpSmsSender(provider.url, "k", "CPTS"))
    worker.run_once()
    worker.run_once(now=utcnow() + timedelta(hours=2))
    assert len(provider.received) == 1
    message = client.get(f"/api/v1/requests/{request_id}", headers=coordinator).json()["messages"][0]
    assert message["status"] == "failed" and message["last_error"] == "sms provider 400"
    provider.server.shutdown()

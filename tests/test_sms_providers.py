"""SMS through Brevo and Twilio, end to end, each against its loopback fake (tests/fakes/sms.py,
which checks the exact request and answers with the provider's payloads): a list sent to a
patient reaches the provider in its format; a refusal shows on the request with the
provider's reason; a 429 is tried again later (the clock moved, no sleep); a delivery receipt
posted to the webhook marks the SMS delivered, a forged one is refused (401) and changes
nothing; without a receipt after SMS_RECEIPT_HOURS the SMS is "unknown", never "delivered"."""

import re
import subprocess
from datetime import timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing, utcnow
from app.core.settings import Settings
from app.main import create_app
from app.notifications.delivery import explain
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.notifications.senders import FileSender
from app.notifications.sms_providers import build_sms_sender, sms_problems, twilio_signature
from tests.factories import PASSWORD, account_headers, add_doctor
from tests.factories import submit as submit_form
from tests.fakes.sms import FakeBrevo, FakeTwilio
from tests.helpers.cli import ORIENTATION, command_env

pytestmark = pytest.mark.usefixtures("demo_territories")
WEBHOOK = "/webhooks/sms/{}"


@pytest.fixture
def brevo():
    fake = FakeBrevo()
    yield fake
    fake.stop()


@pytest.fixture
def twilio():
    fake = FakeTwilio()
    yield fake
    fake.stop()


def _configured(settings: Settings, provider: str, fake) -> Settings:
    if provider == "brevo":
        changes = {"sms_api_key": fake.api_key, "sms_webhook_secret": fake.webhook_token}
    else:
        changes = {"sms_api_key": fake.auth_token, "sms_account_sid": fake.account_sid}
    return settings.model_copy(update={"sms_provider": provider, "sms_endpoint": fake.base_url, **changes})


class World:
    """The app configured for one provider, a coordinator signed in, a worker on a clock."""

    def __init__(self, settings: Settings, engine, db, tmp_path, provider: str, fake) -> None:
        self.settings = _configured(settings, provider, fake)
        self.provider, self.fake, self.db = provider, fake, db
        self.app = create_app(self.settings)
        self.client = TestClient(self.app)
        self.client.__enter__()
        self.headers = account_headers(db, "coordinator", 91, ["grand-arras"])
        self.now = utcnow()
        senders = {"email": FileSender(tmp_path / "mail.log"), "sms": build_sms_sender(self.settings)}
        self.worker = OutboxWorker(
            self.settings, sessionmaker(bind=for_writing(engine)), senders, clock=lambda: self.now
        )

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.app.state.engine.dispose()

    def request_with_list(self) -> int:
        doctor = add_doctor(self.client, self.headers, 1, "Arras", "62000")
        request_id = submit_form(self.client).json()["id"]
        with self.app.state.write_sessions() as session:  # the receipt SMS: not what these tests follow
            session.execute(delete(OutboxMessage).where(OutboxMessage.kind == "receipt"))
            session.commit()
        response = self.client.post(
            f"/api/v1/requests/{request_id}/send-list",
            json={"doctor_ids": [doctor], "channel": "sms"},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        self.now = utcnow()  # the worker's clock, from now on moved by the tests
        return request_id

    def message(self, request_id: int) -> OutboxMessage:
        self.db.rollback()  # a fresh read: the app and the worker committed in their own sessions
        return self.db.scalars(select(OutboxMessage).where(OutboxMessage.request_id == request_id)).one()

    def page(self, request_id: int) -> str:
        self.client.cookies.clear()
        signed = self.client.post(
            "/espace/connexion", data={"email": "coordinator91@test.example.fr", "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        html = self.client.get(f"/espace/demandes/{request_id}").text
        table = re.search(r'<table id="messages".*?</table>', html, re.S).group(0)
        return unescape(re.sub(r"\s+", " ", table))

    def post_receipt(self, body: bytes, headers: dict):
        return self.client.post(WEBHOOK.format(self.provider), content=body, headers=headers)


@pytest.fixture
def world(settings, engine, db, tmp_path, request):
    provider = request.param
    fake = request.getfixturevalue(provider)
    made = World(settings, engine, db, tmp_path, provider, fake)
    yield made
    made.close()


def _receipt(world: World, message: OutboxMessage, status: str, **kwargs) -> tuple[bytes, dict]:
    if world.provider == "brevo":
        return world.fake.receipt(message.provider_message_id, status, **kwargs)
    url = "http://127.0.0.1:8000" + WEBHOOK.format("twilio")  # the StatusCallback we gave, on PUBLIC_URL
    return world.fake.receipt(url, message.provider_message_id, status, **kwargs)


DELIVERED = {"brevo": "delivered", "twilio": "delivered"}
BOTH = pytest.mark.parametrize("world", ["brevo", "twilio"], indirect=True)


@BOTH
def test_a_list_reaches_the_provider_in_its_format_and_its_receipt_marks_it_delivered(world):
    request_id = world.request_with_list()
    assert world.worker.run_once() == 1
    assert world.fake.problems == []
    [call] = world.fake.received
    message = world.message(request_id)
    if world.provider == "brevo":
        assert call["body"] == {
            "sender": "CPTS",
            "recipient": "33612345678",
            "content": message.body,
            "type": "transactional",
            "unicodeEnabled": False,  # the text is GSM 7 (app/notifications/gsm.py)
        }
    else:
        assert call["form"] == {
            "To": "+33612345678",
            "From": "CPTS",
            "Body": message.body,
            "StatusCallback": "http://127.0.0.1:8000/webhooks/sms/twilio",
        }
    assert message.status == "sent" and message.provider == world.provider
    assert message.provider_message_id and message.delivery == "awaiting"
    assert "accusé de réception attendu" in world.page(request_id)

    response = world.post_receipt(*_receipt(world, message, DELIVERED[world.provider]))
    assert response.status_code == 200 and response.json() == {"status": "recorded"}
    message = world.message(request_id)
    assert message.delivery == "delivered" and message.delivery_at is not None
    assert "remis au destinataire" in world.page(request_id)
    # The indicators count it delivered (world.page signed the coordinator in).
    indicators = world.client.get("/espace/indicateurs").text
    assert '… remis (accusé de réception)</th><td class="num">1<' in indicators


@BOTH
def test_a_forged_receipt_is_refused_and_changes_nothing(world):
    request_id = world.request_with_list()
    world.worker.run_once()
    message = world.message(request_id)
    body, headers = _receipt(world, message, "delivered", token="not-the-secret")
    assert world.post_receipt(body, headers).status_code == 401
    body, headers = _receipt(world, message, "undelivered" if world.provider == "twilio" else "hard_bounce")
    genuine_header = {k: v for k, v in headers.items() if k.lower() in ("x-twilio-signature", "authorization")}
    forged = body.replace(b"undelivered", b"delivered").replace(b"hard_bounce", b"delivered")
    if world.provider == "twilio":  # a genuine signature, over other parameters
        assert world.post_receipt(forged, headers).status_code == 401
    without = {k: v for k, v in headers.items() if k not in genuine_header}
    assert world.post_receipt(body, without).status_code == 401
    message = world.message(request_id)
    assert message.delivery == "awaiting" and message.delivery_at is None


@BOTH
def test_a_failed_delivery_shows_the_providers_reason(world):
    request_id = world.request_with_list()
    world.worker.run_once()
    message = world.message(request_id)
    if world.provider == "brevo":
        response = world.post_receipt(*_receipt(world, message, "hard_bounce"))
        expected = "non remis : numéro invalide ou qui ne reçoit pas de SMS (Brevo : hard_bounce)"
    else:
        response = world.post_receipt(*_receipt(world, message, "undelivered", error_code="30003"))
        expected = "non remis : téléphone injoignable (éteint ou hors réseau) (Twilio : 30003 undelivered)"
    assert response.status_code == 200
    assert world.message(request_id).delivery == "failed"
    assert expected in world.page(request_id)


REFUSALS = {
    "brevo": (400, {"code": "invalid_parameter", "message": "Invalid phone number +33612345678"}),
    "twilio": (
        400,
        {
            "code": 21211,
            "message": "The 'To' number +33612345678 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    ),
}


@BOTH
def test_a_refusal_is_shown_on_the_request_with_the_providers_reason(world):
    world.fake.answer_next(*REFUSALS[world.provider])
    request_id = world.request_with_list()
    assert world.worker.run_once() == 0
    message = world.message(request_id)
    assert message.status == "failed" and message.attempts == 1  # refused: not tried again
    assert "+336" not in (message.last_error or "")  # the provider quoted the number: not kept
    page = world.page(request_id)
    if world.provider == "brevo":
        assert "échec : numéro ou expéditeur refusé (Brevo : invalid_parameter Invalid phone number …)" in page
    else:
        assert "échec : numéro invalide (Twilio : 21211 The 'To' number … is not a valid phone number.)" in page
    assert "+336" not in page


RATE_LIMITED = {
    "brevo": (429, {"code": "too_many_requests", "message": "Too many requests"}, {"Retry-After": "120"}),
    "twilio": (
        429,
        {
            "code": 20429,
            "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429",
            "status": 429,
        },
        {"Retry-After": "120"},
    ),
}


@BOTH
def test_a_429_is_tried_again_later(world):
    world.fake.answer_next(*RATE_LIMITED[world.provider])
    request_id = world.request_with_list()
    assert world.worker.run_once() == 0
    message = world.message(request_id)
    assert message.status == "pending" and message.attempts == 1
    assert message.next_attempt_at >= world.now + timedelta(seconds=120)  # the provider's Retry-After
    assert "en attente (nouvel essai" in world.page(request_id)
    world.now += timedelta(seconds=60)
    assert world.worker.run_once() == 0 and len(world.fake.received) == 1  # not before its time
    world.now += timedelta(seconds=61)
    assert world.worker.run_once() == 1 and len(world.fake.received) == 2
    message = world.message(request_id)
    assert message.status == "sent" and message.delivery == "awaiting"
    assert world.fake.problems == []


@BOTH
def test_no_receipt_after_the_delay_is_unknown_never_delivered(world):
    request_id = world.request_with_list()
    world.worker.run_once()
    world.worker.receipts_if_due()
    world.now += timedelta(hours=47)
    world.worker._receipts_check_at = None
    assert world.worker.receipts_if_due() == 0
    assert world.message(request_id).delivery == "awaiting"
    world.now += timedelta(hours=1, seconds=1)
    world.worker._receipts_check_at = None
    assert world.worker.receipts_if_due() == 1
    assert world.message(request_id).delivery == "unknown"
    assert "remise inconnue (aucun accusé de réception)" in world.page(request_id)
    # The indicators count it as unknown, not delivered.
    figures = world.client.get("/api/v1/territories/grand-arras/indicators", headers=world.headers)
    assert figures.status_code == 200, figures.text
    sms = figures.json()["sms"]
    assert (sms["sent"], sms["delivered"], sms["unknown"]) == (1, 0, 1)
    # So do the coordinator's page and its exports (world.page signed the coordinator in).
    page = world.client.get("/espace/indicateurs").text
    for label, n in (("SMS envoyés aux patients", 1), ("… remis (accusé de réception)", 0)):
        assert f'{label}</th><td class="num">{n}<' in page
    assert '… remise inconnue (aucun accusé)</th><td class="num">1<' in page
    exported = world.client.get("/espace/indicateurs.csv").content.decode("utf-8-sig")
    assert "… remise inconnue (aucun accusé);1" in exported.splitlines()
    assert "… remis (accusé de réception);0" in exported.splitlines()


@BOTH
def test_no_input_makes_the_webhook_answer_a_5xx(world):
    """Whatever arrives, signed or not: a 4xx or a 2xx, never a 5xx, and nothing changes."""
    request_id = world.request_with_list()
    world.worker.run_once()
    token = {"Authorization": f"Bearer {world.fake.webhook_token}"} if world.provider == "brevo" else {}
    bodies = [
        (b"", {}),
        (b"not json", {"Content-Type": "application/json", **token}),
        (b"\xff\xfe", {"Content-Type": "application/json", **token}),
        (b'{"messageId": {"a": 1}, "msg_status": ["delivered"]}', {"Content-Type": "application/json", **token}),
        (b"[1, 2, 3]", {"Content-Type": "application/json", **token}),
        (b"MessageSid=%ZZ&&=", {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"}),
        (
            b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n",
            {"Content-Type": "multipart/form-data; boundary=b"},
        ),
        (b"x" * 10_000, {"Content-Type": "text/plain", "Authorization": "Basic !!!"}),
    ]
    for body, headers in bodies:
        status = world.post_receipt(body, headers).status_code
        assert status < 500, (body[:40], status)
    assert world.message(request_id).delivery == "awaiting"


def test_the_webhook_is_closed_unless_that_provider_is_configured(client):
    for provider in ("brevo", "twilio", "ovh", "file"):
        assert client.post(WEBHOOK.format(provider), content=b"{}").status_code == 404


def test_brevos_webhook_without_a_secret_is_closed(settings, engine, brevo):
    configured = _configured(settings, "brevo", brevo).model_copy(update={"sms_webhook_secret": None})
    app = create_app(configured)
    with TestClient(app) as client:
        body, headers = brevo.receipt(1, "delivered")
        assert client.post(WEBHOOK.format("brevo"), content=body, headers=headers).status_code == 404
    app.state.engine.dispose()


def test_the_webhook_is_rate_limited(settings, engine, brevo):
    configured = _configured(settings, "brevo", brevo).model_copy(update={"webhooks_per_minute": 2})
    app = create_app(configured)
    with TestClient(app) as client:
        body, headers = brevo.receipt(1, "delivered", token="wrong")
        answers = [client.post(WEBHOOK.format("brevo"), content=body, headers=headers).status_code for _ in range(3)]
    app.state.engine.dispose()
    assert answers == [401, 401, 429]


def test_twilios_signature_matches_its_documented_example():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_the_sender_name_is_checked_at_start(settings):
    for wrong in ("CPTS Arras", "CPTSduGrandArras", "CPTSSanté", ""):
        with pytest.raises(ValidationError, match="ORIENTATION_SMS_SENDER"):
            Settings(database_url=settings.database_url, sms_sender=wrong)
    assert Settings(database_url=settings.database_url, sms_sender="CPTSArras62").sms_sender == "CPTSArras62"


def test_a_provider_without_credentials_is_refused_at_start(settings):
    brevo = settings.model_copy(update={"sms_provider": "brevo", "sms_api_key": None})
    assert sms_problems(brevo) == ["ORIENTATION_SMS_API_KEY (ou _FILE) manque : la clé d'API de Brevo"]
    twilio = settings.model_copy(update={"sms_provider": "twilio", "sms_api_key": "token", "sms_account_sid": "x"})
    [problem] = sms_problems(twilio)
    assert problem.startswith("ORIENTATION_SMS_ACCOUNT_SID manque")
    assert sms_problems(settings) == []  # the demo's file


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"ORIENTATION_SMS_SENDER": "CPTS Grand Arras"}, "ORIENTATION_SMS_SENDER : le nom d'expéditeur des SMS a 11"),
        ({"ORIENTATION_SMS_PROVIDER": "twilio", "ORIENTATION_SMS_API_KEY": "x"}, "ORIENTATION_SMS_ACCOUNT_SID manque"),
        ({"ORIENTATION_SMS_PROVIDER": "brevo"}, "ORIENTATION_SMS_API_KEY (ou _FILE) manque"),
    ],
)
def test_the_worker_and_the_server_refuse_to_start_with_sms_that_cannot_leave(database_url, engine, env, said):
    for command in (["worker", "--once"], ["serve", "--no-migrate", "--port", "1"]):
        done = subprocess.run(
            [ORIENTATION, *command],
            env=command_env(ORIENTATION_DATABASE_URL=database_url, **env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, (command, done.stderr)
        assert said in done.stderr and "Traceback" not in done.stderr


def test_each_reason_is_said_in_french_then_in_the_providers_words():
    assert explain("twilio 21610 Attempt to send to unsubscribed recipient") == (
        "le destinataire a répondu STOP à nos SMS (Twilio : 21610 Attempt to send to unsubscribed recipient)"
    )
    assert explain("brevo not_enough_credits Not enough credits") == (
        "crédit SMS épuisé chez le fournisseur (Brevo : not_enough_credits Not enough credits)"
    )
    assert explain("brevo ConnectError") == "fournisseur injoignable (Brevo : ConnectError)"
    assert (
        explain("twilio 503 Service Unavailable") == "panne passagère du fournisseur (Twilio : 503 Service Unavailable)"
    )
    assert explain("brevo weird_code something") == "refusé par le fournisseur (Brevo : weird_code something)"
    assert explain("smtp 550") == "refusé par le serveur de messagerie (smtp 550)"
    assert explain(None) == "raison inconnue"

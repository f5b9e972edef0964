"""Stand-ins for the SMS providers' APIs, served on loopback: Brevo's transactional SMS and
Twilio's Messages. Each checks the request as the provider documents it (path, method,
authentication, content type, the fields and their format) and answers with the provider's
own payloads: Brevo's 201 {"messageId"} and {"code", "message"} errors; Twilio's 201 Message
resource and {"code", "message", "more_info", "status"} errors. What does not match is
answered as the provider would (401, 400) and kept in `problems`, which a test asserts empty.

A test queues answers with `answer_next(status, body, headers)` (a refusal, a 429…), and
builds the delivery receipts the provider would post: `receipt(...)` gives the body and the
headers, authenticated as the provider does (Brevo's bearer token, Twilio's signature)."""

import json
import secrets
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

from app.notifications.sms_providers import twilio_signature


class _FakeApi:
    def __init__(self) -> None:
        self.received: list[dict] = []  # each accepted or refused request: headers and body
        self.problems: list[str] = []
        self._queued: list[tuple[int, dict, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body, headers = fake.handle(self.path, dict(self.headers.items()), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer_next(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self._queued.append((status, body, headers or {}))

    def _queued_answer(self) -> tuple[int, dict, dict[str, str]] | None:
        return self._queued.pop(0) if self._queued else None

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict, dict[str, str]]:
        raise NotImplementedError

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


class FakeBrevo(_FakeApi):
    """POST /v3/transactionalSMS/send, `api-key` header, JSON body."""

    FIELDS = {"sender", "recipient", "content", "type", "tag", "webUrl", "unicodeEnabled", "organisationPrefix"}

    def __init__(self, api_key: str = "xkeysib-test-key", webhook_token: str = "brevo-webhook-token") -> None:
        self.api_key, self.webhook_token = api_key, webhook_token
        self._next_id = 1511882900176220
        super().__init__()
        self.base_url = f"http://127.0.0.1:{self.port}/v3"

    def handle(self, path, headers, raw):
        if path != "/v3/transactionalSMS/send":
            self.problems.append(f"path {path}")
            return 404, {"code": "not_found", "message": "Not found"}, {}
        if _header(headers, "api-key") != self.api_key:
            self.problems.append("api-key")
            return 401, {"code": "unauthorized", "message": "Key not found"}, {}
        if not _header(headers, "content-type").startswith("application/json"):
            self.problems.append("content-type")
        try:
            body = json.loads(raw)
        except ValueError:
            self.problems.append("not JSON")
            return 400, {"code": "bad_request", "message": "Input must be a valid JSON object"}, {}
        self.received.append({"headers": headers, "body": body})
        problems = sorted(set(body) - self.FIELDS)
        problems += [f"missing {f}" for f in ("sender", "recipient", "content") if not body.get(f)]
        recipient, sender = str(body.get("recipient", "")), str(body.get("sender", ""))
        if not (recipient.isdigit() and 6 <= len(recipient) <= 15):
            problems.append(f"recipient {recipient!r}: digits with the country code")
        if not ((sender.isalnum() and len(sender) <= 11) or (sender.isdigit() and len(sender) <= 15)):
            problems.append(f"sender {sender!r}")
        if body.get("type", "transactional") not in ("transactional", "marketing"):
            problems.append("type")
        if problems:
            self.problems.extend(problems)
            return 400, {"code": "invalid_parameter", "message": "; ".join(problems)}, {}
        queued = self._queued_answer()
        if queued:
            return queued
        self._next_id += 1
        return 201, {"messageId": self._next_id}, {}

    def receipt(self, message_id: int | str, msg_status: str, token: str | None = None) -> tuple[bytes, dict]:
        """A transactional SMS event as Brevo posts it, with its webhook's bearer token."""
        event = {
            "id": 26570,
            "to": "33612345678",
            "sms_count": 1,
            "credits_used": 1.5,
            "messageId": int(message_id),
            "remaining_credit": 11488.845,
            "msg_status": msg_status,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "type": "transactional",
            "reference": secrets.token_hex(10),
            "tag": "",
        }
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token or self.webhook_token}"}
        return json.dumps(event).encode(), headers


class FakeTwilio(_FakeApi):
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json, basic authentication, form body."""

    FIELDS = {"To", "From", "Body", "StatusCallback", "MessagingServiceSid"}

    def __init__(self) -> None:
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        super().__init__()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def handle(self, path, headers, raw):
        import base64

        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if path != expected_path:
            self.problems.append(f"path {path}")
            return 404, _twilio_error(20404, "The requested resource was not found", 404), {}
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if _header(headers, "Authorization") != f"Basic {credentials}":
            self.problems.append("authorization")
            return 401, _twilio_error(20003, "Authenticate", 401), {}
        if not _header(headers, "content-type").startswith("application/x-www-form-urlencoded"):
            self.problems.append("content-type")
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        self.received.append({"headers": headers, "form": form})
        problems = sorted(set(form) - self.FIELDS)
        problems += [f"missing {f}" for f in ("To", "Body") if not form.get(f)]
        if not form.get("From") and not form.get("MessagingServiceSid"):
            problems.append("missing From")
        if not form.get("To", "").startswith("+"):
            problems.append("To: E.164")
        if problems:
            self.problems.extend(problems)
            return 400, _twilio_error(21604, "A 'To' phone number is required.", 400), {}
        queued = self._queued_answer()
        if queued:
            return queued
        sid = "SM" + secrets.token_hex(16)
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        return (
            201,
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": form["Body"],
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "EUR",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
                "to": form["To"],
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
            {},
        )

    def receipt(
        self, url: str, message_sid: str, status: str, error_code: str | None = None, token: str | None = None
    ) -> tuple[bytes, dict]:
        """A status callback as Twilio posts it to `url`, signed (X-Twilio-Signature)."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": "CPTS",
            "MessageSid": message_sid,
            "MessageStatus": status,
            "SmsSid": message_sid,
            "SmsStatus": status,
            "To": "+33612345678",
        }
        if error_code:
            params["ErrorCode"] = error_code
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(token or self.auth_token, url, params),
        }
        return urlencode(params).encode(), headers


def _twilio_error(code: int, message: str, status: int) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }

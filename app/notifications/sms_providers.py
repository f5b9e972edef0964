"""SMS through a provider's own API: Brevo (transactional SMS) and Twilio (Messages), spoken
with httpx as each documents it, and their delivery receipts read and verified.

Each adapter answers the outbox worker as every sender does (app/notifications/senders.py):
`accepted(ProviderReceipt)` with the provider's message id the moment the provider took the
SMS; a `DeliveryError` otherwise, permanent when the provider refused the message itself (the
reason is the provider's code and text, phone numbers blanked), transient for a 429, a 5xx, a
network failure or a refused account (a key to fix, a credit to top up): the worker tries
again after its backoff, or after the provider's Retry-After when it is longer.

Why no provider library: README, "SMS providers"."""

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx

from app.core.settings import Settings, secret_value
from app.notifications.gsm import is_gsm
from app.notifications.senders import Accepted, DeliveryError, Outgoing, ProviderReceipt, Sender

PROVIDERS = ("brevo", "twilio")
NAMES = {"brevo": "Brevo", "twilio": "Twilio"}
WEBHOOK_PATH = "/webhooks/sms/{provider}"

# A provider's text may quote the number it refused: blanked before it is stored or logged.
_NUMBER = re.compile(r"\+?\d[\d .()-]{5,}\d")


def scrubbed(text: object, limit: int = 140) -> str:
    return _NUMBER.sub("…", str(text or "")).strip()[:limit]


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After") or response.headers.get("x-sib-ratelimit-reset")
    if value and value.strip().isdigit():
        return timedelta(seconds=min(int(value.strip()), 3600))
    return None


def _json(response: httpx.Response) -> dict:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _transport_error(provider: str, exc: httpx.TransportError) -> DeliveryError:
    return DeliveryError(f"{provider} {type(exc).__name__}")


class BrevoSmsSender:
    """Brevo's transactional SMS: POST {base}/transactionalSMS/send with the `api-key` header
    and JSON {sender, recipient (digits with the country code, no "+"), content, type,
    unicodeEnabled}; 201 {"messageId": …}; an error is {"code": …, "message": …}."""

    provider = "brevo"
    DEFAULT_BASE = "https://api.brevo.com/v3"

    def __init__(
        self, api_key: str, sender: str, base_url: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.sender = sender
        self.url = f"{(base_url or self.DEFAULT_BASE).rstrip('/')}/transactionalSMS/send"
        self.client = httpx.Client(
            timeout=15,
            transport=transport,
            headers={"api-key": api_key, "accept": "application/json", "content-type": "application/json"},
        )

    def send(self, message: Outgoing, accepted: Accepted) -> None:
        payload = {
            "sender": self.sender,
            "recipient": message.recipient.lstrip("+"),
            "content": message.body,
            "type": "transactional",  # never held back at night or on Sundays, no STOP added
            "unicodeEnabled": not is_gsm(message.body),
        }
        try:
            response = self.client.post(self.url, json=payload)
        except httpx.TransportError as exc:
            raise _transport_error(self.provider, exc) from None
        status = response.status_code
        if 200 <= status < 300:
            found = _json(response).get("messageId")
            accepted(ProviderReceipt(self.provider, str(found)) if found is not None else None)
            return
        error = _json(response)
        reason = f"brevo {scrubbed(error.get('code') or status, 40)} {scrubbed(error.get('message'))}".strip()
        if status == 429:
            raise DeliveryError(
                f"brevo 429 {scrubbed(error.get('message'))}".strip(), retry_after=_retry_after(response)
            )
        # 401/403: our key; 402: no credit left. The operator fixes it, the SMS goes later.
        if status >= 500 or status in (401, 402, 403):
            raise DeliveryError(reason)
        raise DeliveryError(reason, permanent=True)


class TwilioSmsSender:
    """Twilio's Messages: POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, basic
    authentication (Account SID, Auth Token), form-encoded To, From, Body and StatusCallback;
    201 {"sid": "SM…", "status": "queued", …}; an error is {"code", "message", "more_info", "status"}."""

    provider = "twilio"
    DEFAULT_BASE = "https://api.twilio.com"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_callback: str | None,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.sender, self.status_callback = sender, status_callback
        self.url = f"{(base_url or self.DEFAULT_BASE).rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.client = httpx.Client(
            timeout=15, transport=transport, auth=(account_sid, auth_token), headers={"accept": "application/json"}
        )

    def send(self, message: Outgoing, accepted: Accepted) -> None:
        form = {"To": message.recipient, "From": self.sender, "Body": message.body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = self.client.post(self.url, data=form)
        except httpx.TransportError as exc:
            raise _transport_error(self.provider, exc) from None
        status = response.status_code
        found = _json(response)
        if 200 <= status < 300:
            sid = found.get("sid")
            accepted(ProviderReceipt(self.provider, str(sid)) if sid else None)
            return
        reason = f"twilio {scrubbed(found.get('code') or status, 40)} {scrubbed(found.get('message'))}".strip()
        if status == 429 or found.get("code") == 20429:
            raise DeliveryError(reason, retry_after=_retry_after(response))
        if status >= 500 or status in (401, 403):  # 20003: our credentials, to fix
            raise DeliveryError(reason)
        raise DeliveryError(reason, permanent=True)


def webhook_url(settings: Settings, provider: str) -> str | None:
    """Where the provider posts its receipts: on PUBLIC_URL (the address it can reach)."""
    if not settings.public_url:
        return None
    return settings.public_url.rstrip("/") + WEBHOOK_PATH.format(provider=provider)


def build_sms_sender(settings: Settings, transport: httpx.BaseTransport | None = None) -> Sender:
    key = secret_value(settings.sms_api_key, settings.sms_api_key_file)
    problems = sms_problems(settings)
    if problems:
        raise ValueError("; ".join(problems))
    assert key is not None
    if settings.sms_provider == "brevo":
        return BrevoSmsSender(key, settings.sms_sender, settings.sms_endpoint, transport)
    return TwilioSmsSender(
        settings.sms_account_sid or "",
        key,
        settings.sms_sender,
        webhook_url(settings, "twilio"),
        settings.sms_endpoint,
        transport,
    )


def sms_problems(settings: Settings) -> list[str]:
    """Why SMS cannot leave as configured (French, for the operator at `serve` and `worker`)."""
    provider = settings.sms_provider
    if provider not in PROVIDERS:
        return []
    problems = []
    try:
        key = secret_value(settings.sms_api_key, settings.sms_api_key_file)
    except OSError as exc:
        problems.append(f"ORIENTATION_SMS_API_KEY_FILE illisible ({type(exc).__name__})")
        key = "unreadable"
    if not key:
        what = "la clé d'API de Brevo" if provider == "brevo" else "l'Auth Token de Twilio"
        problems.append(f"ORIENTATION_SMS_API_KEY (ou _FILE) manque : {what}")
    if provider == "twilio" and not re.fullmatch(r"AC[0-9a-fA-F]{32}", settings.sms_account_sid or ""):
        problems.append(
            "ORIENTATION_SMS_ACCOUNT_SID manque ou n'est pas un Account SID de Twilio (AC suivi de 32 caractères)"
        )
    return problems


def sms_warnings(settings: Settings) -> list[str]:
    """What works, but without delivery receipts."""
    provider = settings.sms_provider
    if provider not in PROVIDERS:
        return []
    warnings = []
    if not settings.public_url:
        warnings.append("ORIENTATION_PUBLIC_URL manque : le fournisseur ne peut pas envoyer les accusés de réception")
    if provider == "brevo" and not secret_value(settings.sms_webhook_secret, settings.sms_webhook_secret_file):
        warnings.append("ORIENTATION_SMS_WEBHOOK_SECRET manque : les accusés de réception de Brevo sont refusés")
    return warnings


# --- Delivery receipts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """What a provider's delivery report says of one SMS: `state` "delivered" or "failed" (with
    the provider's reason), or None for a step on the way ("sent", "queued"…), recorded nowhere."""

    message_id: str
    state: str | None
    reason: str | None = None


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature: base64 of HMAC-SHA1, keyed with the Auth Token, of the
    URL it called followed by each POST parameter, sorted by name, name and value joined."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_receipt(params: Mapping[str, str]) -> Receipt | None:
    sid = params.get("MessageSid") or params.get("SmsSid")
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if not sid or not status:
        return None
    if status == "delivered":
        return Receipt(sid, "delivered")
    if status in ("undelivered", "failed"):
        code = scrubbed(params.get("ErrorCode") or status, 40)
        return Receipt(sid, "failed", f"twilio {code} {status}")
    return Receipt(sid, None)


def brevo_receipt(payload: object) -> Receipt | None:
    """Brevo's transactional SMS event: {"messageId": 123, "msg_status": "delivered" |
    "sent" | "soft_bounce" | "hard_bounce", "to", "date", "reference", …}."""
    if not isinstance(payload, dict):
        return None
    message_id, status = payload.get("messageId"), payload.get("msg_status")
    if message_id is None or not isinstance(status, str):
        return None
    if status == "delivered":
        return Receipt(str(message_id), "delivered")
    if status in ("hard_bounce", "soft_bounce", "rejected", "skip", "error"):
        detail = scrubbed(payload.get("reason") or payload.get("description") or "", 100)
        return Receipt(str(message_id), "failed", f"brevo {status} {detail}".strip())
    return Receipt(str(message_id), None)


def bearer_or_basic_matches(authorization: str | None, secret: str) -> bool:
    """Brevo's webhook authentication ("Secure webhook calls"): a bearer token, or basic
    authentication whose password is the secret. Compared in constant time."""
    if not authorization:
        return False
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode(), secret.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(decoded.partition(":")[2].encode(), secret.encode())
    return False

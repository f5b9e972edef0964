"""POST /webhooks/sms/{provider}: the delivery receipts of the SMS provider in use, verified
as that provider documents it before anything is read:

- Twilio signs each status callback: X-Twilio-Signature, HMAC-SHA1 with our Auth Token of the
  URL it called (the StatusCallback we gave, on PUBLIC_URL) and the sorted form parameters;
- Brevo sends the token its webhook was created with: `Authorization: Bearer <token>` (or basic
  authentication with it as the password), SMS_WEBHOOK_SECRET.

Closed by default: a provider that is not the one configured, or one whose receipts cannot be
verified (no PUBLIC_URL for Twilio, no secret for Brevo), answers 404. A forged receipt is 401
and changes nothing. Limited per address (WEBHOOKS_PER_MINUTE)."""

import hmac
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.core.dependencies import DbSession
from app.core.errors import NotFound, Unauthorized
from app.core.ratelimit import Limit
from app.core.settings import Settings, secret_value
from app.notifications import delivery
from app.notifications.sms_providers import (
    PROVIDERS,
    Receipt,
    bearer_or_basic_matches,
    brevo_receipt,
    twilio_receipt,
    twilio_signature,
    webhook_url,
)

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
WEBHOOKS = Limit("webhooks", "webhooks_per_minute")


async def _payload(request: Request) -> bytes | dict[str, str]:
    """A form's fields (Twilio), or the raw body (Brevo's JSON). A form is read with
    request.form(), which the app's input check (app/core/inputs.py) has already consumed and
    cached: its body is no longer there to read."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - a malformed form: no signature can match it
            return {}
        return {name: value for name, value in form.multi_items() if isinstance(value, str)}
    return await request.body()


Payload = Annotated[bytes | dict[str, str], Depends(_payload)]


def _refused() -> Unauthorized:
    return Unauthorized("Accusé de réception refusé : signature ou jeton invalide.")


def _verified_receipt(
    settings: Settings, provider: str, request: Request, body: bytes | dict[str, str]
) -> Receipt | None:
    """The receipt, once the request is proven to be the provider's; 404 when it cannot be."""
    if provider == "twilio":
        url = webhook_url(settings, "twilio")
        token = secret_value(settings.sms_api_key, settings.sms_api_key_file)
        if url is None or not token:
            raise NotFound("Pas de webhook ici.")
        params = body if isinstance(body, dict) else {}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not hmac.compare_digest(signature.encode(), twilio_signature(token, url, params).encode()):
            raise _refused()
        return twilio_receipt(params)
    secret = secret_value(settings.sms_webhook_secret, settings.sms_webhook_secret_file)
    if not secret:
        raise NotFound("Pas de webhook ici.")
    if not bearer_or_basic_matches(request.headers.get("Authorization"), secret):
        raise _refused()
    if isinstance(body, dict):  # not the JSON Brevo posts
        return None
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return brevo_receipt(payload)


@router.post("/webhooks/sms/{provider}", dependencies=[Depends(WEBHOOKS)])
def sms_receipt(provider: str, request: Request, body: Payload, session: DbSession) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    if provider not in PROVIDERS or provider != settings.sms_provider:
        raise NotFound("Pas de webhook ici.")
    receipt = _verified_receipt(settings, provider, request, body)
    if receipt is None:  # genuine, but not a receipt we read (another event): acknowledged
        return {"status": "ignored"}
    found = delivery.record_receipt(session, provider, receipt, request.app.state.clock())
    return {"status": "recorded" if found else "unknown message"}

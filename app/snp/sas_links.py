"""What "arriving from the SAS" means: holding a booking link that the authenticated /fhir feed
handed out for that very slot.

Each Slot.comment of the feed is `…/creneaux/{id}/reserver?origin=sas&sas=<expires>.<signature>`:
`expires` is a Unix time shared by the whole Bundle, `signature` the first 128 bits of an
HMAC-SHA256 of "{slot id}.{expires}" under a key derived from the app's secret key. A regulator
account books a slot only with a valid link for it; typing ?origin=sas, reusing another slot's
link, forging one or keeping one past its expiry is refused. Only the SAS platform, proven by its
client certificate on /fhir, receives these links.

The feed answers hundreds of searches a second with dozens of slots each: per slot, one
hmac.digest (C, no object) and one f-string."""

import hashlib
import hmac
from datetime import datetime

from fastapi import FastAPI

from app.core.settings import secret_key

PURPOSE = b"orientation/sas-booking-link/v1"  # another use of the secret key signs other things
MAX_TOKEN_LENGTH = 60


class SasBookingLinks:
    def __init__(self, secret: str, minutes: int) -> None:
        self._key = hmac.new(secret.encode(), PURPOSE, hashlib.sha256).digest()
        self._seconds = minutes * 60

    def expires(self, now: datetime) -> int:
        """The expiry of the links of one answer of the feed."""
        return int(now.timestamp()) + self._seconds

    def token(self, slot_id: int, expires: int) -> str:
        signature = hmac.digest(self._key, f"{slot_id}.{expires}".encode(), "sha256")[:16].hex()
        return f"{expires}.{signature}"

    def valid(self, slot_id: int, token: str | None, now: datetime) -> bool:
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return False
        expires, dot, _ = token.partition(".")
        if not dot or not expires.isdigit() or int(expires) < now.timestamp():
            return False
        return hmac.compare_digest(self.token(slot_id, int(expires)), token)


def sas_booking_links(app: FastAPI) -> SasBookingLinks:
    """The app's signer, made on first use (the secret key may live in a file)."""
    links = getattr(app.state, "sas_booking_links", None)
    if links is None:
        settings = app.state.settings
        links = SasBookingLinks(secret_key(settings), settings.sas_booking_link_minutes)
        app.state.sas_booking_links = links
    return links

"""Signed, expiring links that let a doctor confirm its availability without an account."""

from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.core.database import utcnow
from app.core.settings import Settings, secret_key
from app.doctors.models import Doctor

_SALT = "doctor-confirmation"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt=_SALT)


def make_link(settings: Settings, base_url: str, doctor: Doctor) -> tuple[str, datetime]:
    # The RPPS is signed with the id: a link outlives nothing if the entry is re-created.
    token = _serializer(settings).dumps({"d": doctor.id, "r": doctor.rpps})
    url = f"{base_url}/medecins/confirmer/{token}"
    return url, utcnow() + timedelta(days=settings.confirmation_link_days)


class InvalidLink(Exception):
    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def read_link(settings: Settings, token: str) -> tuple[int, str]:
    """(doctor id, RPPS) of a valid link; InvalidLink otherwise."""
    max_age = int(timedelta(days=settings.confirmation_link_days).total_seconds())
    try:
        payload = _serializer(settings).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidLink(expired=True) from None
    except BadSignature:
        raise InvalidLink(expired=False) from None
    return int(payload["d"]), str(payload["r"])

"""The links e-mailed to choose a password: the invitation of a new account, and "Mot de passe
oublié". Each is signed with the deployment's key, expires (INVITATION_LINK_HOURS,
PASSWORD_RESET_LINK_MINUTES) and is single-use: it signs the end of the account's current
password hash, which changes as soon as a password is chosen (a new random salt), so a link
once used, or any earlier link of the account, stops working."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.core.database import utcnow
from app.core.settings import Settings, secret_key

_SALT = "account-password-link"


class Purpose(StrEnum):
    INVITATION = "invitation"
    RESET = "reset"


PATHS = {Purpose.INVITATION: "/comptes/invitation", Purpose.RESET: "/comptes/reinitialisation"}


@dataclass(frozen=True)
class LinkCheck:
    user: User | None
    expired: bool = False


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(settings), salt=_SALT)


def _fingerprint(user: User) -> str:
    return (user.password_hash or "")[-16:]


def lifetime(settings: Settings, purpose: Purpose) -> timedelta:
    if purpose is Purpose.INVITATION:
        return timedelta(hours=settings.invitation_link_hours)
    return timedelta(minutes=settings.password_reset_link_minutes)


def make_link(settings: Settings, base_url: str, user: User, purpose: Purpose) -> tuple[str, datetime]:
    """(the link, when it expires)."""
    expires = utcnow() + lifetime(settings, purpose)
    token = _serializer(settings).dumps(
        {"u": user.id, "p": purpose.value, "h": _fingerprint(user), "e": int(expires.timestamp())}
    )
    return f"{base_url}{PATHS[purpose]}/{token}", expires


def check_link(session: Session, settings: Settings, token: str, purpose: Purpose) -> LinkCheck:
    """The account a link is for, or None: forged, for another purpose, already used, or its
    account deactivated; `expired` when it was valid but its time is over."""
    try:
        payload = _serializer(settings).loads(token)
        user_id, kind, fingerprint, expires = int(payload["u"]), payload["p"], payload["h"], int(payload["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return LinkCheck(None)
    if kind != purpose.value:
        return LinkCheck(None)
    user = session.get(User, user_id)
    if user is None or not user.active or _fingerprint(user) != fingerprint:
        return LinkCheck(None)
    if utcnow().timestamp() >= expires:
        return LinkCheck(None, expired=True)
    return LinkCheck(user)

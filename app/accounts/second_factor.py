"""The second factor of coordinators and admins (who see every patient of a CPTS): a TOTP
code from an authenticator app (RFC 6238, with pyotp), or one of ten recovery codes shown
once at enrolment and kept as SHA-256 digests.

Whether a session needs it is `needs_second_factor`: when REQUIRE_SECOND_FACTOR is set, for
the roles of `policy.SECOND_FACTOR_ROLES`; and for anybody who enrolled. A session meets it
when it was opened strong (`WebSession.strong`): after a code here, or by a sign-in that
counts as strong (Pro Santé Connect calls `open_session(..., strong=True)`)."""

import base64
import secrets
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import RecoveryCode, Role, User
from app.accounts.policy import SECOND_FACTOR_ROLES
from app.accounts.security import digest
from app.core.database import utcnow
from app.core.settings import Settings

ISSUER = "Orientation"
RECOVERY_CODES = 10
# One step (30 s) either side: the phone's clock may be a little off.
VALID_WINDOW = 1


def needs_second_factor(settings: Settings, user: User) -> bool:
    if user.totp_confirmed_at is not None:
        return True
    return settings.require_second_factor and Role(user.role) in SECOND_FACTOR_ROLES


def enrolled(user: User) -> bool:
    return user.totp_confirmed_at is not None


def pending_secret(user: User) -> str:
    """The secret being enrolled (a new one the first time): shown until a first code confirms it."""
    if user.totp_secret is None or user.totp_confirmed_at is not None:
        user.totp_secret = pyotp.random_base32()
    return user.totp_secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG data URI: an <img> the page's policy allows (img-src data:)."""
    import segno  # ~9 MB of a worker, for an enrolment now and then: loaded when first asked

    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _totp_counter(secret: str, code: str, now: datetime) -> int | None:
    """The time step the code belongs to, within the window; None if it is wrong."""
    totp = pyotp.TOTP(secret)
    counter = totp.timecode(now)
    for step in range(-VALID_WINDOW, VALID_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(counter + step), code):
            return counter + step
    return None


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def confirm_enrolment(user: User, code: str) -> bool:
    """The first code of the pending secret: the second factor is in use from now on."""
    if user.totp_secret is None or user.totp_confirmed_at is not None:
        return False
    counter = _totp_counter(user.totp_secret, _normalise(code), utcnow())
    if counter is None:
        return False
    user.totp_confirmed_at, user.totp_last_counter = utcnow(), counter
    return True


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Ten new codes (the previous ones no longer count), to show once."""
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=digest(code)))
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def verify(session: Session, user: User, code: str) -> str | None:
    """How the code was accepted ("totp" or "recovery"), or None. A TOTP code is accepted once
    (its time step is remembered); a recovery code is spent."""
    if not enrolled(user) or user.totp_secret is None:
        return None
    code = _normalise(code)
    if code.isdigit() and len(code) == 6:
        counter = _totp_counter(user.totp_secret, code, utcnow())
        if counter is None or (user.totp_last_counter is not None and counter <= user.totp_last_counter):
            return None
        user.totp_last_counter = counter
        return "totp"
    recovery = session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == digest(code), RecoveryCode.used_at.is_(None)
        )
    ).one_or_none()
    if recovery is None:
        return None
    recovery.used_at = utcnow()
    return "recovery"


def remaining_recovery_codes(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def remove(session: Session, user: User) -> None:
    user.totp_secret = user.totp_confirmed_at = user.totp_last_counter = None
    for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(code)

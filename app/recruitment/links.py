"""The signed link of an invitation: it opens the volunteer sign-up page, filled in from the
directory. It names the invitation and the RPPS; it expires after INVITATION_DAYS."""

from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.core.settings import Settings, secret_key

_SALT = "doctor-invitation"
INVITATION_DAYS = 120  # a letter waits in a mailbox, then on a desk: four months
SIGNUP_PATH = "/medecins/devenir-volontaire"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt=_SALT)


def invitation_link(settings: Settings, base_url: str, invitation_id: int, rpps: str) -> str:
    token = _serializer(settings).dumps({"i": invitation_id, "r": rpps})
    return f"{base_url}{SIGNUP_PATH}/{token}"


def read_invitation(settings: Settings, token: str) -> tuple[int, str] | None:
    """(invitation id, RPPS) of a valid link; None for an altered or expired one."""
    try:
        payload = _serializer(settings).loads(token, max_age=int(timedelta(days=INVITATION_DAYS).total_seconds()))
        return int(payload["i"]), str(payload["r"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None

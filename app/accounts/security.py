"""Passwords (argon2) and the random secrets behind sessions, API tokens and CSRF."""

import hashlib
import logging
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.settings import get_settings

logger = logging.getLogger(__name__)

# A hash carries its own parameters: verification follows them, whichever hasher made it.
_STANDARD = PasswordHasher()
# Valid Argon2id at a fraction of the cost, for the test suite only (password_hash_cost).
_TEST_ONLY_CHEAP = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)

TOKEN_PREFIX = "orn_"
MIN_PASSWORD_LENGTH = 12


@cache
def _hasher() -> PasswordHasher:
    if get_settings().password_hash_cost == "standard":
        return _STANDARD
    logger.warning("password_hash_cost=test-only-cheap: new password hashes are weak; never in production")
    return _TEST_ONLY_CHEAP


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so that the answer takes as long either way."""
    return _hasher().hash("not a password of anybody")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _STANDARD.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Secrets are random and long: a plain SHA-256 is enough to store them (no salt, no KDF)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_strength(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"Mot de passe trop court : {MIN_PASSWORD_LENGTH} caractères au moins.")
    return password

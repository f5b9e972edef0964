"""Passwords (argon2) and the random secrets behind sessions, API tokens and CSRF."""

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that the answer takes as long either way.
_DUMMY_HASH = _hasher.hash("not a password of anybody")

TOKEN_PREFIX = "orn_"
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
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

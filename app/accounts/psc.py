"""Pro Santé Connect (PSC), the ANS's OpenID Connect provider for health professionals: the
authorization code flow with PKCE, `state` and `nonce`, on Authlib.

Authlib builds the authorization request (RFC 6749, PKCE S256 of RFC 7636) and the token
request, and validates the ID token's claims (`authlib.oidc.core.CodeIDToken`: issuer,
audience, expiry, nonce, azp, at_hash); joserfc, Authlib's JOSE library, checks its signature
against the provider's published keys. Authlib's httpx integration is not used: it now
targets the `httpx2` package; the requests go through the service's own httpx.

What comes back is a `PscIdentity`: the national identifier PSC puts in the userinfo
(`SubjectNameID`, IDNPS: 8 + RPPS) and, when present, the profession and practice data of
`SubjectRefPro`. Which account that is, is app/accounts/service.py's `psc_account`."""

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.core.settings import Settings

logger = logging.getLogger(__name__)

MEDECIN = "10"  # TRE_G15 codeProfession: médecin
# Asymmetric signatures only: a shared-secret (HS*) or unsigned ID token is refused.
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_SECONDS = 60  # clocks of the provider and ours may differ a little
METADATA_SECONDS = 3600  # the discovery document and the keys are read again after an hour
MAX_CODE_LENGTH = 2048


class PscRefused(Exception):
    """The sign-in cannot go on: `message` is for the person (French), `reason` for the logs
    (a fixed word, never a value the provider sent)."""

    def __init__(self, reason: str, message: str, status_code: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.status_code = status_code


UNAVAILABLE = "Pro Santé Connect ne répond pas pour le moment : réessayez plus tard ou connectez-vous par mot de passe."
INVALID_ANSWER = (
    "La réponse de Pro Santé Connect n'a pas pu être vérifiée : la connexion est refusée. Recommencez la connexion."
)


@dataclass(frozen=True)
class PscSite:
    """A place where the professional practises (an `activities` entry of SubjectRefPro)."""

    name: str  # raisonSocialeSite
    postcode: str  # codePostal
    insee_code: str  # codeCommune


@dataclass(frozen=True)
class PscIdentity:
    national_id: str  # SubjectNameID: IDNPS, "8" + RPPS (or "0" + ADELI)
    given_name: str
    family_name: str
    professions: tuple[str, ...] = ()  # codeProfession of each exercice ("10": médecin)
    specialties: tuple[str, ...] = ()  # codeSavoirFaire (e.g. SM54, general practice)
    sites: tuple[PscSite, ...] = ()
    has_professional_data: bool = False  # SubjectRefPro was sent

    @property
    def rpps(self) -> str | None:
        """The RPPS number, for an IDNPS of the RPPS kind (8 + 11 digits)."""
        value = self.national_id
        return value[1:] if len(value) == 12 and value.startswith("8") and value.isdigit() else None

    @property
    def is_doctor(self) -> bool | None:
        """Whether PSC says this is a médecin; None when it sent no professional data."""
        return MEDECIN in self.professions if self.has_professional_data else None


@dataclass(frozen=True)
class AuthorizationRequest:
    """What the browser carries to PSC, and what our callback must find again."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def configured(settings: Settings) -> bool:
    return bool(settings.psc_discovery_url and settings.psc_client_id and _client_secret(settings))


def _client_secret(settings: Settings) -> str | None:
    if settings.psc_client_secret:
        return settings.psc_client_secret
    path = settings.psc_client_secret_file
    if path is not None and path.is_file():
        return path.read_text(encoding="utf-8").strip() or None
    return None


def _text(value: Any, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def identity_of(userinfo: dict[str, Any]) -> PscIdentity:
    """The userinfo of PSC (JSON), read defensively: a missing or malformed national
    identifier refuses the sign-in; the professional data is optional."""
    national_id = userinfo.get("SubjectNameID")
    if not isinstance(national_id, str) or not (2 <= len(national_id) <= 20) or not national_id.isalnum():
        raise PscRefused("userinfo_without_national_id", INVALID_ANSWER, 502)
    ref_pro = userinfo.get("SubjectRefPro")
    professions: list[str] = []
    specialties: list[str] = []
    sites: list[PscSite] = []
    exercices = ref_pro.get("exercices") if isinstance(ref_pro, dict) else None
    for exercice in exercices if isinstance(exercices, list) else []:
        if not isinstance(exercice, dict):
            continue
        if code := _text(exercice.get("codeProfession"), 10):
            professions.append(code)
        if code := _text(exercice.get("codeSavoirFaire"), 10):
            specialties.append(code)
        activities = exercice.get("activities")
        for activity in activities if isinstance(activities, list) else []:
            if isinstance(activity, dict):
                sites.append(
                    PscSite(
                        _text(activity.get("raisonSocialeSite")),
                        _text(activity.get("codePostal"), 10),
                        _text(activity.get("codeCommune"), 10),
                    )
                )
    return PscIdentity(
        national_id=national_id,
        given_name=_text(userinfo.get("given_name"), 100),
        family_name=_text(userinfo.get("family_name"), 100),
        professions=tuple(professions),
        specialties=tuple(specialties),
        sites=tuple(sites),
        has_professional_data=isinstance(ref_pro, dict),
    )


class PscClient:
    """One per app (`psc_client(app)`): it keeps the provider's discovery document and keys
    for an hour. `transport` lets a test route the requests elsewhere (none does: the tests'
    provider runs on loopback)."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._read_at = 0.0

    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=self._settings.psc_timeout_seconds, transport=self._transport)

    def _get_json(self, url: str, reason: str, **kwargs: Any) -> dict[str, Any]:
        try:
            with self._http() as http:
                response = http.get(url, **kwargs)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("psc_unavailable", extra={"step": reason, "error_type": type(exc).__name__})
            raise PscRefused(f"{reason}_unavailable", UNAVAILABLE, 503) from None
        if not isinstance(body, dict):
            raise PscRefused(f"{reason}_malformed", UNAVAILABLE, 503)
        return body

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._read_at > METADATA_SECONDS:
                document = self._get_json(str(self._settings.psc_discovery_url), "discovery")
                needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
                if not all(isinstance(document.get(k), str) for k in needed):
                    raise PscRefused("discovery_malformed", UNAVAILABLE, 503)
                self._metadata, self._keys, self._read_at = document, None, time.monotonic()
            return self._metadata

    def _key_set(self, force: bool = False) -> KeySet:
        metadata = self.metadata()
        with self._lock:
            if self._keys is None or force:
                try:
                    jwks: Any = self._get_json(metadata["jwks_uri"], "jwks")  # joserfc checks its shape
                    self._keys = KeySet.import_key_set(jwks)
                except (JoseError, ValueError, TypeError, KeyError):
                    raise PscRefused("jwks_malformed", UNAVAILABLE, 503) from None
            return self._keys

    def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        """A new `state`, `nonce` and PKCE verifier, and the provider's URL that carries them."""
        settings = self._settings
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        url = prepare_grant_uri(
            self.metadata()["authorization_endpoint"],
            client_id=str(settings.psc_client_id),
            response_type="code",
            redirect_uri=redirect_uri,
            scope=settings.psc_scopes,
            state=state,
            nonce=nonce,
            acr_values=settings.psc_acr_values or None,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return AuthorizationRequest(url, state, nonce, verifier)

    def identity(self, redirect_uri: str, code: str, code_verifier: str, nonce: str, now: datetime) -> PscIdentity:
        """The code exchanged for tokens, the ID token verified, the userinfo read."""
        metadata = self.metadata()
        tokens = self._tokens(metadata["token_endpoint"], redirect_uri, code, code_verifier)
        claims = self._id_token_claims(tokens, nonce, now)
        userinfo = self._get_json(
            metadata["userinfo_endpoint"],
            "userinfo",
            headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"},
        )
        # OpenID Connect Core 5.3.2: the userinfo is the ID token's subject's, or it is not used.
        if userinfo.get("sub") != claims["sub"]:
            raise PscRefused("userinfo_subject_mismatch", INVALID_ANSWER, 502)
        return identity_of(userinfo)

    def _tokens(self, endpoint: str, redirect_uri: str, code: str, code_verifier: str) -> dict[str, Any]:
        settings = self._settings
        body = prepare_token_request(
            "authorization_code", redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
        )
        try:
            with self._http() as http:
                response = http.post(
                    endpoint,
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                    auth=(str(settings.psc_client_id), _client_secret(settings) or ""),  # client_secret_basic
                )
            tokens = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("psc_unavailable", extra={"step": "token", "error_type": type(exc).__name__})
            raise PscRefused("token_unavailable", UNAVAILABLE, 503) from None
        if response.status_code != 200 or not isinstance(tokens, dict):
            raise PscRefused("token_refused", INVALID_ANSWER, 502)
        if not isinstance(tokens.get("id_token"), str) or not isinstance(tokens.get("access_token"), str):
            raise PscRefused("token_malformed", INVALID_ANSWER, 502)
        return tokens

    def _id_token_claims(self, tokens: dict[str, Any], nonce: str, now: datetime) -> CodeIDToken:
        settings = self._settings
        metadata = self.metadata()
        registry = JWSRegistry(algorithms=ID_TOKEN_ALGORITHMS)
        try:
            try:
                token = jwt.decode(tokens["id_token"], self._key_set(), registry=registry)
            except InvalidKeyIdError:  # the provider may have rolled its keys
                token = jwt.decode(tokens["id_token"], self._key_set(force=True), registry=registry)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": settings.psc_client_id},
                    "exp": {"essential": True},
                    "nonce": {"essential": True},
                },
                {"nonce": nonce, "client_id": settings.psc_client_id, "access_token": tokens["access_token"]},
            )
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY_SECONDS)
        except JoseError as exc:
            # The class says what failed (ExpiredTokenError, BadSignatureError, InvalidClaimError…).
            logger.warning("psc_id_token_refused", extra={"error_type": type(exc).__name__})
            raise PscRefused("id_token_invalid", INVALID_ANSWER, 401) from None
        acr = claims.get("acr")
        allowed = settings.psc_acr_values.split()
        if acr is not None and allowed and acr not in allowed:
            raise PscRefused("acr_too_low", "Niveau d'authentification Pro Santé Connect insuffisant.", 401)
        return claims


def psc_client(app: Any) -> PscClient:
    """The app's client, made on first use."""
    client = getattr(app.state, "psc_client", None)
    if client is None:
        client = PscClient(app.state.settings)
        app.state.psc_client = client
    return client


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()

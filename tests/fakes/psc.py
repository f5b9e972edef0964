"""A stand-in for Pro Santé Connect (the ANS's OpenID Connect provider), served on loopback.

It answers as PSC's Keycloak realm does, under the same paths: the discovery document, the
authorization endpoint (which consents at once and sends the browser back with a code), the
token endpoint (client_secret_basic; the code once, for its redirect URI and PKCE verifier;
an ID token signed RS256 by a key made for the test, carrying the nonce it was given), the
userinfo (JSON, with PSC's claims: SubjectNameID, SubjectRefPro…) and the keys (JWKS).

A test makes it misbehave with `fail`: "wrong_nonce", "expired" (an ID token expired an
hour ago), "bad_signature" (signed by another key under the same key id), "error" (the
authorization answers error=access_denied), "wrong_state" (another state comes back),
"low_acr" (an ID token whose acr is not eidas1)."""

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

REALM = "/auth/realms/esante-wallet"
OIDC = f"{REALM}/protocol/openid-connect"
KEY_ID = "psc-test-signing-key"
CLIENT_ID = "orientation-cpts-test"
CLIENT_SECRET = "psc-test-client-secret"


def psc_userinfo(
    national_id: str, given_name: str = "KIT", family_name: str = "DOC0012804", profession: str = "10"
) -> dict[str, Any]:
    """PSC's userinfo for one professional, as the ANS's sandbox answers it (a médecin, code
    profession 10, general practice SM54, in a private practice)."""
    return {
        "sub": f"f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:{national_id}",
        "SubjectNameID": national_id,
        "preferred_username": national_id,
        "given_name": given_name,
        "family_name": family_name,
        "email_verified": False,
        "UITVersion": "1.0",
        "Secteur_Activite": "SA07^1.2.250.1.71.4.2.4",
        "SubjectOrganization": f"CABINET M {family_name}",
        "SubjectOrganizationID": "",
        "SubjectRole": [f"{profession}^1.2.250.1.213.1.1.5.5"],
        "PSI_Locale": "1.2.250.1.213.1.3.1.1",
        "Palier_Authentification": "APPPRIP3^1.2.250.1.213.1.5.1.1.1",
        "Mode_Acces_Raison": "",
        "Acces_Regulation_Medicale": "FAUX",
        "otherIds": [{"identifiant": national_id, "origine": "RPPS", "qualite": 1}],
        "SubjectRefPro": {
            "codeCivilite": "M",
            "exercices": [
                {
                    "codeProfession": profession,
                    "codeCategorieProfessionnelle": "C",
                    "codeCiviliteDexercice": "DR",
                    "nomDexercice": family_name,
                    "prenomDexercice": given_name,
                    "codeTypeSavoirFaire": "S",
                    "codeSavoirFaire": "SM54",
                    "activities": [
                        {
                            "codeModeExercice": "L",
                            "codeSecteurDactivite": "SA07",
                            "codeSectionPharmacien": "",
                            "codeRole": "",
                            "numeroSiretSite": "",
                            "numeroSirenSite": "",
                            "numeroFinessSite": "",
                            "numeroFinessetablissementJuridique": "",
                            "identifiantTechniqueDeLaStructure": "R10000000046436",
                            "raisonSocialeSite": f"CABINET M {family_name}",
                            "enseigneCommercialeSite": "",
                            "complementDestinataire": "",
                            "complementPointGeographique": "",
                            "numeroVoie": "1",
                            "indiceRepetitionVoie": "",
                            "codeTypeDeVoie": "R",
                            "libelleVoie": "DE CAMBRAI",
                            "mentionDistribution": "",
                            "bureauCedex": "62000 ARRAS",
                            "codePostal": "62000",
                            "codeCommune": "62041",
                            "codePays": "",
                            "telephone": "",
                            "telephone2": "",
                            "telecopie": "",
                            "adresseEMail": "",
                            "codeDepartement": "62",
                            "ancienIdentifiantDeLaStructure": "",
                            "autoriteDenregistrement": "",
                        }
                    ],
                }
            ],
        },
    }


@dataclass
class FakePsc:
    national_id: str = "810000000017"
    userinfo: dict[str, Any] | None = None  # None: psc_userinfo(national_id)
    fail: str | None = None
    authorizations: list[dict[str, str]] = field(default_factory=list)  # what /auth received
    token_requests: int = 0
    _codes: dict[str, dict[str, str]] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)  # access token → national id

    def __post_init__(self) -> None:
        params = {"kid": KEY_ID, "use": "sig", "alg": "RS256"}
        self.key = RSAKey.generate_key(2048, parameters=params)
        self.other_key = RSAKey.generate_key(2048, parameters=params)  # "bad_signature"

    @property
    def discovery_url(self) -> str:
        return f"{self.base}{REALM}/.well-known/openid-configuration"

    @property
    def issuer(self) -> str:
        return f"{self.base}{REALM}"

    def settings(self) -> dict[str, Any]:
        """The app's settings that point at this provider."""
        return {"psc_discovery_url": self.discovery_url, "psc_client_id": CLIENT_ID, "psc_client_secret": CLIENT_SECRET}

    def env(self) -> dict[str, str]:
        return {f"ORIENTATION_{k.upper()}": v for k, v in self.settings().items()}

    def _metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base}{OIDC}/auth",
            "token_endpoint": f"{self.base}{OIDC}/token",
            "userinfo_endpoint": f"{self.base}{OIDC}/userinfo",
            "end_session_endpoint": f"{self.base}{OIDC}/logout",
            "jwks_uri": f"{self.base}{OIDC}/certs",
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "scope_all"],
            "acr_values_supported": ["eidas1"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "claims_parameter_supported": False,
        }

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        self.authorizations.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}
        redirect_uri, state = query["redirect_uri"], query.get("state", "")
        if self.fail == "error":
            answer = {"error": "access_denied", "error_description": "L'utilisateur a annulé", "state": state}
            return 302, {"Location": f"{redirect_uri}?{urlencode(answer)}"}
        code = secrets.token_urlsafe(24)
        self._codes[code] = {
            "redirect_uri": redirect_uri,
            "nonce": query.get("nonce", ""),
            "challenge": query.get("code_challenge", ""),
            "method": query.get("code_challenge_method", ""),
        }
        back_state = secrets.token_urlsafe(16) if self.fail == "wrong_state" else state
        answer = {"state": back_state, "session_state": secrets.token_hex(16), "code": code}
        return 302, {"Location": f"{redirect_uri}?{urlencode(answer)}"}

    def _token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != expected:
            return 401, {"error": "invalid_client"}
        issued = self._codes.pop(form.get("code", ""), None)  # a code serves once
        if issued is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if issued["method"] != "S256" or challenge != issued["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        if form.get("redirect_uri") != issued["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        access_token = secrets.token_urlsafe(32)
        self._tokens[access_token] = self.national_id
        now = int(time.time())
        issued_at = now - 7200 if self.fail == "expired" else now
        claims = {
            "exp": issued_at + 120,
            "iat": issued_at,
            "auth_time": issued_at,
            "jti": secrets.token_hex(16),
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": self._userinfo()["sub"],
            "typ": "ID",
            "azp": CLIENT_ID,
            "nonce": "not-the-nonce-sent" if self.fail == "wrong_nonce" else issued["nonce"],
            "session_state": secrets.token_hex(16),
            "acr": "eidas2" if self.fail == "low_acr" else "eidas1",
            "sid": secrets.token_hex(16),
            "preferred_username": self.national_id,
        }
        key = self.other_key if self.fail == "bad_signature" else self.key
        id_token = jwt.encode({"alg": "RS256", "typ": "JWT", "kid": KEY_ID}, claims, key)
        return 200, {
            "access_token": access_token,
            "expires_in": 120,
            "refresh_expires_in": 600,
            "token_type": "Bearer",
            "id_token": id_token,
            "not-before-policy": 0,
            "session_state": claims["session_state"],
            "scope": "openid scope_all",
        }

    def _userinfo(self) -> dict[str, Any]:
        return self.userinfo if self.userinfo is not None else psc_userinfo(self.national_id)

    def __enter__(self) -> "FakePsc":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict | None = None, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == f"{REALM}/.well-known/openid-configuration":
                    self._answer(200, fake._metadata())
                elif url.path == f"{OIDC}/certs":
                    self._answer(200, KeySet([fake.key]).as_dict(private=False))
                elif url.path == f"{OIDC}/auth":
                    status, headers = fake._authorize(query)
                    self._answer(status, None, headers)
                elif url.path == f"{OIDC}/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in fake._tokens:
                        self._answer(401, {"error": "invalid_token"})
                    else:
                        self._answer(200, fake._userinfo())
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlparse(self.path).path == f"{OIDC}/token":
                    self._answer(*fake._token(form, self.headers.get("Authorization", "")))
                else:
                    self._answer(404, {"error": "not_found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

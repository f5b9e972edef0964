"""Security headers on every response (pages, API, errors, static files), and `Secure` cookies
over HTTPS.

Pure ASGI and cheap: the header bytes are encoded once, when the app is made; a response
only gets them appended (the SAS feed is benchmarked). It wraps the whole application,
outside Starlette's error middleware, so that a 500 carries them too.

The pages run only our own scripts and style sheets (app/static): no inline script, no
inline style, no `unsafe-inline`. The map's tiles come from MAP_TILE_URL's origin. The API
documentation (/docs, /redoc) is FastAPI's, loaded from its CDN: it gets its own policy, its
inline scripts allowed by their hashes (its styles are injected by the libraries: allowed
inline there only; these pages hold no personal data)."""

import base64
import hashlib
import re
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import proxies
from app.core.settings import Settings

# A year, this host only: other hosts of the domain may still serve plain HTTP.
HSTS = (b"strict-transport-security", b"max-age=31536000")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
DOCS_CDN = "https://cdn.jsdelivr.net"


def tile_origin(map_tile_url: str) -> str | None:
    """'https://{s}.tile.example.org/{z}/{x}/{y}.png' → 'https://*.tile.example.org'."""
    parts = urlsplit(map_tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    if "*" in host.lstrip("*"):  # CSP allows a wildcard as the leftmost label only
        return None
    return f"{parts.scheme}://{host}"


def page_policy(settings: Settings) -> str:
    images = " ".join(filter(None, ["'self'", "data:", tile_origin(settings.map_tile_url)]))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _script_hashes(html: str) -> list[str]:
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]


def docs_policy(app: FastAPI) -> str:
    """FastAPI's documentation pages, as FastAPI renders them for this app."""
    pages = [
        get_swagger_ui_html(
            openapi_url=app.openapi_url or "",
            title="",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        ),
        get_swagger_ui_oauth2_redirect_html(),
        get_redoc_html(openapi_url=app.openapi_url or "", title=""),
    ]
    hashes = sorted({h for page in pages for h in _script_hashes(bytes(page.body).decode())})
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {DOCS_CDN} {' '.join(hashes)}",
            f"style-src 'self' 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com",
            f"img-src 'self' data: {DOCS_CDN} https://fastapi.tiangolo.com",
            "font-src 'self' https://fonts.gstatic.com",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _common(policy: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, docs_policy: str, docs_paths: tuple[str, ...]) -> None:
        self.app = app
        self.settings = settings
        self.page_headers = _common(page_policy(settings))
        self.docs_headers = _common(docs_policy)
        self.docs_paths = docs_paths
        self.public_https = (settings.public_url or "").startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.docs_headers if scope["path"] in self.docs_paths else self.page_headers
        https = proxies.is_https(scope, self.settings, self.public_https)
        secure_cookies = https or self.settings.cookie_secure

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = message.get("headers") or []
                if secure_cookies:
                    existing = [_secure_cookie(name, value) for name, value in existing]
                message["headers"] = [*existing, *headers, *((HSTS,) if https else ())]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure_cookie(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    if name.lower() != b"set-cookie" or b"; secure" in value.lower():
        return name, value
    return name, value + b"; Secure"

"""Where the links we hand out (follow-up, QR codes, flyers, doctors' and regulators' links,
the SAS's booking links) point."""

from contextvars import ContextVar

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

# The base URL of the request being served, for what is written deep inside a service with no
# request at hand (the privacy link ending every message): set by CurrentBaseUrlMiddleware.
current_base_url: ContextVar[str | None] = ContextVar("current_base_url", default=None)


def public_base_url(request: Request) -> str:
    """`PUBLIC_URL` when set (behind a reverse proxy, it must be); otherwise the address this
    server answers on: the scheme and the listening socket's host and port, as uvicorn gives
    them. Not the Host header, which any client writes as it likes: a link sent to a patient
    or a doctor never points where a stranger chose."""
    configured = request.app.state.settings.public_url
    if configured:
        return str(configured).rstrip("/")
    scheme = request.scope.get("scheme", "http")
    server = request.scope.get("server")
    if not server or server[1] is None:  # a Unix socket, or a test client: what the request says
        return str(request.base_url).rstrip("/")
    host, port = server
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port == default_port else f"{scheme}://{host}:{port}"


class CurrentBaseUrlMiddleware:
    """Sets `current_base_url` to `public_base_url` of each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = current_base_url.set(public_base_url(Request(scope)))
        try:
            await self.app(scope, receive, send)
        finally:
            current_base_url.reset(token)

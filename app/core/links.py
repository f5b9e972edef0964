"""Where the links we hand out (follow-up, QR codes, flyers, doctors' and regulators' links,
the SAS's booking links) point."""

from starlette.requests import Request


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

"""TLS terminated by uvicorn with client certificates: uvicorn verifies the certificate
against the CA bundle, but does not tell the application whose it is. This protocol class
puts the verified subject into every request's state (request.state.tls_client_subject)."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a base class chosen at import time: the type checker follows the usual one
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as HttpProtocol
else:
    try:  # httptools when installed (it is a dependency: the faster parser), else h11
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as HttpProtocol
    except ImportError:  # pragma: no cover
        from uvicorn.protocols.http.h11_impl import H11Protocol as HttpProtocol


def subject_of(peercert: dict[str, Any] | None) -> str | None:
    if not peercert:
        return None
    parts = [f"{name}={value}" for rdn in peercert.get("subject", ()) for name, value in rdn]
    names = {"commonName": "CN", "organizationalUnitName": "OU", "organizationName": "O", "countryName": "C"}
    return ",".join(names.get(p.split("=", 1)[0], p.split("=", 1)[0]) + "=" + p.split("=", 1)[1] for p in parts)


class ClientCertProtocol(HttpProtocol):
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        subject = subject_of(ssl_object.getpeercert()) if ssl_object is not None else None
        # app_state is copied into each request's scope["state"]: a per-connection copy.
        self.app_state = {**self.app_state, "tls_client_subject": subject}

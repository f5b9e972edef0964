"""TLS terminated by uvicorn with client certificates: uvicorn verifies the certificate
against the CA bundle, but does not tell the application whose it is. This protocol class
puts the verified subject into every request's state (request.state.tls_client_subject).

Outbound, `client_context` is the TLS of our calls to the SAS platform (mutual TLS)."""

import os
import secrets
import ssl
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # a base class chosen at import time: the type checker follows the usual one
    from cryptography.x509 import Certificate
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


# ---- Outbound: our client certificate, for calls to the SAS platform ------------------------


def client_context(
    certfile: Path, keyfile: Path | None, password_file: Path | None, cafile: Path
) -> tuple[ssl.SSLContext, datetime]:
    """A TLS context for mutual TLS as a client: TLS 1.2 at least, the server's certificate
    checked against `cafile` (and its host name), ours presented. `certfile` is PEM (the chain,
    with the key or with `keyfile`) or PKCS#12; `password_file` holds the key's passphrase.
    Also returns when our certificate expires. Raises OSError, ssl.SSLError or ValueError."""
    from cryptography import x509

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cafile))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    password = password_file.read_text(encoding="utf-8").rstrip("\r\n") if password_file else None
    data = certfile.read_bytes()
    if b"-----BEGIN" in data:
        certificate = x509.load_pem_x509_certificates(data)[0]
        context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None, password=password)
    else:
        certificate = _load_pkcs12(context, data, password)
    return context, certificate.not_valid_after_utc


def _load_pkcs12(context: ssl.SSLContext, data: bytes, password: str | None) -> "Certificate":
    from cryptography.hazmat.primitives.serialization import (
        BestAvailableEncryption,
        Encoding,
        PrivateFormat,
        pkcs12,
    )

    key, certificate, chain = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
    if key is None or certificate is None:
        raise ValueError("the PKCS#12 file holds no key or no certificate")
    # ssl reads a chain from a file only: a private temporary file, removed at once, whose key
    # is encrypted with a passphrase used once and never written anywhere.
    once = secrets.token_urlsafe(32)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(once.encode()))
    pem += certificate.public_bytes(Encoding.PEM) + b"".join(c.public_bytes(Encoding.PEM) for c in chain)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "client.pem"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(pem)
        context.load_cert_chain(str(path), password=once)
    return certificate

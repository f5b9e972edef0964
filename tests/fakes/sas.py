"""A stand-in for the SAS platform's appointment interface, served on loopback over mutual TLS.

Like the platform (the guide's security page), it speaks TLS 1.2 or later and **requires** a
client certificate issued by the CA it trusts: without one, or with an expired one, or one of
another CA, the handshake fails and nothing is received. `SasPki` makes the certificates
(trustme): the platform's CA and server certificate, and an "IGC-Santé" CA for ours.

It takes `POST /Appointment` and `PUT /Appointment?identifier=system|value` as the platform
does, checks each Appointment against FrAppointmentSAS (FHIR model + the guide's rules),
answers 201/200 or a 400/422 OperationOutcome, and keeps what it received. A test can make
it fail the next requests with a given status."""

import json
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import trustme
from fhir.resources.R4B.appointment import Appointment
from pydantic import ValidationError

from app.fhir import profiles as p


def appointment_problems(resource: dict) -> list[str]:
    try:
        Appointment.model_validate(resource)
    except ValidationError as exc:
        return [f"not a valid Appointment: {exc}"[:300]]
    found = []
    if p.APPOINTMENT not in (resource.get("meta") or {}).get("profile", []):
        found.append("meta.profile lacks FrAppointmentSAS")
    identifiers = resource.get("identifier") or []
    if len(identifiers) != 1 or not identifiers[0].get("system") or not identifiers[0].get("value"):
        found.append("exactly one identifier with system and value")
    operator = [e for e in resource.get("extension", []) if e.get("url") == p.APPOINTMENT_OPERATOR]
    ident = ((operator[0] if operator else {}).get("valueReference") or {}).get("identifier") or {}
    coding = (ident.get("type") or {}).get("coding") or []
    if (
        len(coding) != 1
        or coding[0].get("system") != p.IDENTIFIER_TYPE
        or not ident.get("system")
        or not ident.get("value")
    ):
        found.append("FrAppointmentOperator extension with the regulator's typed identifier")
    if resource.get("status") not in ("booked", "fulfilled", "noshow", "cancelled"):
        found.append("status among booked, fulfilled, noshow, cancelled")
    if not resource.get("start") or not resource.get("end"):
        found.append("start and end")
    participants = resource.get("participant") or []
    actor = ((participants[0] if participants else {}).get("actor") or {}).get("identifier") or {}
    if (
        actor.get("system") != p.NATIONAL_PS
        or not str(actor.get("value", "")).startswith("8")
        or participants[0].get("status") != "accepted"
    ):
        found.append("participant: the doctor's IDNPS (8+RPPS), status accepted")
    return found


CLIENT_CN = "orientation.cpts-exemple.fr"


class SasPki:
    """Certificate files in `folder`: `platform_ca` (what we trust), `platform_server`
    (127.0.0.1 and localhost), `client_ca` (what the platform trusts) and our client
    certificates: `client` (PEM chain + key), `client_p12` (PKCS#12, passphrase in
    `client_p12_password`), `expired`, `stranger` (a CA the platform does not trust)."""

    def __init__(self, folder: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12
        from cryptography.x509 import load_pem_x509_certificate

        self.folder = folder
        platform_ca, client_ca, stranger_ca = trustme.CA(), trustme.CA(), trustme.CA()
        self.platform_ca_obj, self.client_ca_obj = platform_ca, client_ca
        self.platform_ca = folder / "platform-ca.pem"
        platform_ca.cert_pem.write_to_path(str(self.platform_ca))
        self.client_ca = folder / "client-ca.pem"
        client_ca.cert_pem.write_to_path(str(self.client_ca))
        self.platform_server = folder / "platform-server.pem"
        platform_ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
            str(self.platform_server)
        )
        # A certificate of the platform's CA for another host: its name does not match ours.
        self.other_host_server = folder / "other-host-server.pem"
        platform_ca.issue_cert("sas.example.fr").private_key_and_cert_chain_pem.write_to_path(
            str(self.other_host_server)
        )
        now = datetime.now(UTC)
        leaves = {
            "client": client_ca.issue_cert(CLIENT_CN, common_name=CLIENT_CN, organization_unit_name="CPTS"),
            "expired": client_ca.issue_cert(
                CLIENT_CN,
                common_name=CLIENT_CN,
                not_before=now - timedelta(days=400),
                not_after=now - timedelta(days=1),
            ),
            "stranger": stranger_ca.issue_cert(CLIENT_CN, common_name=CLIENT_CN),
        }
        for name, leaf in leaves.items():
            path = folder / f"{name}.pem"
            leaf.private_key_and_cert_chain_pem.write_to_path(str(path))
            setattr(self, name, path)
        self.expired_not_after = now - timedelta(days=1)
        # The same client certificate as PKCS#12, as the IGC-Santé hands it out.
        good = leaves["client"]
        key = serialization.load_pem_private_key(good.private_key_pem.bytes(), None)
        certificate = load_pem_x509_certificate(good.cert_chain_pems[0].bytes())
        self.client_p12_password = folder / "client-p12.pass"
        self.client_p12_password.write_text("phrase secrète du p12\n", encoding="utf-8")
        self.client_p12 = folder / "client.p12"
        self.client_p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"orientation",
                key,  # type: ignore[arg-type]  # trustme's keys are EC or RSA, both allowed
                certificate,
                None,
                serialization.BestAvailableEncryption("phrase secrète du p12".encode()),
            )
        )

    def settings(self, base_url: str, **changes: object) -> dict[str, object]:
        """The settings of a deployment that pushes to the fake platform."""
        return {
            "sas_base_url": base_url,
            "sas_client_certfile": self.client,
            "sas_ca_file": self.platform_ca,
            "appointment_identifier_system": "urn:oid:1.2.250.1.999.1.1",
            **changes,
        }


@dataclass
class Received:
    method: str
    identifier: str | None
    resource: dict
    client_subject: str = ""  # the CN of the client certificate the connection presented


@dataclass
class FakeSas:
    pki: SasPki
    server_certificate: Path | None = None  # default: pki.platform_server (127.0.0.1, localhost)
    received: list[Received] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer, one per request
    known: dict[str, dict] = field(default_factory=dict)
    refused_handshakes: int = 0

    def __enter__(self) -> "FakeSas":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                if status in (200, 201):
                    self.send_header("Location", f"{fake.url}/Appointment/{len(fake.known)}")
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                identifier = parse_qs(url.query).get("identifier", [None])[0]
                if fake.fail_next:
                    status = fake.fail_next.pop(0)
                    return self._answer(
                        status,
                        {
                            "resourceType": "OperationOutcome",
                            "issue": [
                                {
                                    "severity": "error",
                                    "code": "exception" if status >= 500 else "business-rule",
                                    "diagnostics": "Mme Secret Patient ne peut pas",
                                }
                            ],
                        },
                    )
                if url.path != "/Appointment" or self.headers.get("Content-Type") != "application/fhir+json":
                    return self._answer(
                        400, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "structure"}]}
                    )
                problems = appointment_problems(body)
                if problems:
                    return self._answer(
                        422,
                        {
                            "resourceType": "OperationOutcome",
                            "issue": [{"severity": "error", "code": "invalid", "diagnostics": "; ".join(problems)}],
                        },
                    )
                peer = self.request.getpeercert() or {}
                subject = dict(rdn[0] for rdn in peer.get("subject", ()))
                fake.received.append(Received(self.command, identifier, body, subject.get("commonName", "")))
                key = f"{body['identifier'][0]['system']}|{body['identifier'][0]['value']}"
                if self.command == "PUT" and identifier != key:
                    return self._answer(
                        400, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}
                    )
                created = key not in fake.known
                fake.known[key] = body
                self._answer(201 if created else 200, body)

            do_POST = _handle
            do_PUT = _handle

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.pki.client_ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no connection
        context.load_cert_chain(str(self.server_certificate or self.pki.platform_server))

        class Server(ThreadingHTTPServer):
            def get_request(self):
                try:
                    return super().get_request()
                except ssl.SSLError:
                    fake.refused_handshakes += 1
                    raise

        self.server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.server_bind()
        self.server.server_activate()
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

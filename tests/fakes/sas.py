"""A stand-in for the SAS platform's appointment interface, served on loopback.

It takes `POST /Appointment` and `PUT /Appointment?identifier=system|value` as the platform
does, checks each Appointment against FrAppointmentSAS (FHIR model + the guide's rules),
answers 201/200 or a 400/422 OperationOutcome, and keeps what it received. A test can make
it fail the next requests with a given status."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

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


@dataclass
class Received:
    method: str
    identifier: str | None
    resource: dict


@dataclass
class FakeSas:
    received: list[Received] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer, one per request
    known: dict[str, dict] = field(default_factory=dict)

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
                fake.received.append(Received(self.command, identifier, body))
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

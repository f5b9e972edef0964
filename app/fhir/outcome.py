"""OperationOutcome: how a FHIR interface says what went wrong."""

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from app.fhir.profiles import FHIR_JSON


class FhirError(Exception):
    """`code` from the FHIR issue-type value set: invalid, required, not-found, forbidden,
    security, business-rule, conflict, not-supported, processing."""

    def __init__(self, status: int, code: str, diagnostics: str, expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.status, self.code, self.diagnostics, self.expression = status, code, diagnostics, expression


def operation_outcome(
    code: str, diagnostics: str, expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class FhirResponse(JSONResponse):
    """application/fhir+json, encoded by orjson: a search Bundle is ~100 kB, and the standard
    encoder took a sixth of the SAS search's time budget."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def fhir_error_response(_request: Request, exc: FhirError) -> FhirResponse:
    return FhirResponse(operation_outcome(exc.code, exc.diagnostics, exc.expression), status_code=exc.status)

"""OperationOutcome: how a FHIR interface says what went wrong."""

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import ApiError, field_errors_from_validation
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


FHIR_PREFIX = "/fhir"
# The issue type (FHIR's IssueType value set) of each status an error under /fhir may have.
_ISSUE_CODES = {
    400: "invalid",
    401: "security",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "business-rule",
    429: "throttled",
    503: "transient",
}


def install_fhir_errors(app: FastAPI) -> None:
    """Under /fhir every error is an OperationOutcome, including those the framework answers
    itself (an unknown resource type: 404; a method we do not serve: 405, with its Allow
    header) and the API's errors (a 409 at the commit); elsewhere the handlers already
    installed answer as before. Install after the others."""
    kinds: tuple[type[Exception], ...] = (StarletteHTTPException, RequestValidationError, ApiError)
    previous = {kind: app.exception_handlers[kind] for kind in kinds}

    def is_fhir(request: Request) -> bool:
        return request.url.path == FHIR_PREFIX or request.url.path.startswith(FHIR_PREFIX + "/")

    def outcome(status: int, diagnostics: str, headers: Mapping[str, str] | None = None) -> FhirResponse:
        return FhirResponse(
            operation_outcome(_ISSUE_CODES.get(status, "processing"), diagnostics),
            status_code=status,
            headers=dict(headers or {}),
        )

    async def fallback(kind: type[Exception], request: Request, exc: Exception) -> Response:
        response = previous[kind](request, exc)
        return response if isinstance(response, Response) else await response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_fhir(request):
            return await fallback(StarletteHTTPException, request, exc)
        diagnostics = {
            400: "Requête illisible.",
            404: "Type de ressource ou adresse inconnus de ce serveur.",
            405: f"Méthode {request.method} non prise en charge ici.",
        }.get(exc.status_code, "La requête n'a pas pu aboutir.")
        return outcome(exc.status_code, diagnostics, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        if not is_fhir(request):
            return await fallback(RequestValidationError, request, exc)
        # Each field refused (e.g. a NUL byte in a parameter): one issue naming it.
        issues = [
            operation_outcome("invalid", f"{error.field} : {error.message}", error.field)["issue"][0]
            for error in field_errors_from_validation(list(exc.errors()))
        ]
        return FhirResponse({"resourceType": "OperationOutcome", "issue": issues}, status_code=400)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if not is_fhir(request):
            return await fallback(ApiError, request, exc)
        return outcome(exc.status_code, exc.message, exc.headers)


# ---- Formats: JSON only ----------------------------------------------------------------------

_JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}
_JSON_RANGES = _JSON_FORMATS | {"*/*", "application/*"}


def _accepts_json(accept: str) -> bool:
    for part in accept.split(","):
        media, *parameters = (p.strip() for p in part.split(";"))
        quality = next((p.split("=", 1)[1] for p in parameters if p.replace(" ", "").startswith("q=")), "1")
        try:
            refused = float(quality) == 0
        except ValueError:
            refused = False
        if media.lower() in _JSON_RANGES and not refused:
            return True
    return False


async def negotiate_format(request: Request) -> None:  # no I/O: no hop to the thread pool
    """We serve FHIR JSON only: `_format` (which overrides Accept, as FHIR says) must be JSON,
    and so must Accept when sent; else 406 with an OperationOutcome."""
    wanted = request.query_params.get("_format")
    if wanted is not None:
        if wanted.strip().lower() not in _JSON_FORMATS:
            raise FhirError(406, "not-supported", f"_format « {wanted[:40]} » : seul le JSON (json) est servi.")
        return
    accept = request.headers.get("accept")
    if accept and not _accepts_json(accept):
        raise FhirError(406, "not-supported", "Seul le JSON (application/fhir+json) est servi.", None)

"""One shape for every error body, so that clients (and our own pages) handle them alike.

    {"error": "validation_error", "message": "...", "fields": [{"field": "postcode", "message": "..."}]}

Extra keys may follow (e.g. ``candidates`` for an undecidable commune)."""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.logging import error_fields

logger = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: list[FieldError] = []


class ApiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        fields: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body = ErrorBody(error=self.code, message=self.message, fields=self.fields)
        return body.model_dump() | self.extra


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class Unprocessable(ApiError):
    status_code = 422
    code = "validation_error"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class TooManyRequests(ApiError):
    status_code = 429
    code = "too_many_requests"


# French wording for the validation errors people actually meet on our forms.
_FRENCH_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "string_too_short": "Trop court.",
    "string_too_long": "Trop long.",
    "string_pattern_mismatch": "Format invalide.",
    "string_type": "Texte attendu.",
    "int_parsing": "Nombre entier attendu.",
    "float_parsing": "Nombre attendu.",
    "bool_parsing": "Valeur oui/non attendue.",
    "list_type": "Liste attendue.",
    "too_short": "Liste trop courte.",
    "json_invalid": "Corps JSON invalide.",
    "model_attributes_type": "Objet JSON attendu.",
    "dict_type": "Objet JSON attendu.",
    "extra_forbidden": "Champ inconnu.",
    "enum": "Valeur non autorisée.",
    "literal_error": "Valeur non autorisée.",
    "date_from_datetime_parsing": "Date invalide (AAAA-MM-JJ).",
    "date_parsing": "Date invalide (AAAA-MM-JJ).",
    "date_type": "Date invalide (AAAA-MM-JJ).",
    "date_from_datetime_inexact": "Date invalide (AAAA-MM-JJ).",
    "datetime_type": "Date et heure invalides.",
    "bool_type": "Valeur oui/non attendue.",
    "int_type": "Nombre entier attendu.",
    "int_from_float": "Nombre entier attendu.",
    "float_type": "Nombre attendu.",
    "string_unicode": "Texte attendu.",
    "value_error_missing": "Ce champ est obligatoire.",
    "datetime_parsing": "Date et heure invalides.",
    "greater_than_equal": "Valeur trop petite.",
    "less_than_equal": "Valeur trop grande.",
    "value_error": None,  # our own validators already speak French
}


# With the field's name in front ("Date de naissance : …"), for a message read apart from its
# field (a form's list of errors, a screen reader): what is expected, by error type.
_EXPECTED = {
    "missing": "à remplir.",
    "string_type": "à remplir.",
    "string_too_short": "à remplir.",
    "string_too_long": "trop long ({max_length} caractères au plus).",
    "string_pattern_mismatch": "format invalide.",
    "date_type": "une date JJ/MM/AAAA est attendue.",
    "date_parsing": "une date JJ/MM/AAAA est attendue.",
    "date_from_datetime_parsing": "une date JJ/MM/AAAA est attendue.",
    "date_from_datetime_inexact": "une date JJ/MM/AAAA est attendue.",
    "literal_error": "choisissez l'une des réponses proposées.",
    "enum": "choisissez l'une des réponses proposées.",
    "bool_type": "répondez oui ou non.",
    "bool_parsing": "répondez oui ou non.",
    "int_parsing": "un nombre entier est attendu.",
    "list_type": "une liste est attendue.",
    "too_long": "{max_length} au plus.",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    # Drop the "body"/"query"/"path" prefix: callers know where they sent the field.
    parts = (
        [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else [str(p) for p in loc]
    )
    return ".".join(parts) or "body"


def french_message(error: Mapping[str, Any]) -> str:
    """One Pydantic error, said in French."""
    message = str(error.get("msg", "Valeur invalide."))
    if message.startswith("value is not a valid email address"):
        return "Adresse e-mail invalide."
    kind = error.get("type", "")
    if kind in _FRENCH_MESSAGES:
        return _FRENCH_MESSAGES[kind] or message.removeprefix("Value error, ")
    # A type nobody translated yet: French all the same, never Pydantic's English.
    return "Valeur invalide."


def labelled_message(label: str, error: Mapping[str, Any]) -> str:
    """One error said with its field's name and what is expected: "Nom : à remplir."."""
    expected = _EXPECTED.get(error.get("type", ""))
    if expected is not None:
        try:
            return f"{label} : {expected.format(**(error.get('ctx') or {}))}"
        except (KeyError, IndexError):
            return f"{label} : {expected}"
    message = french_message(error)
    if message.startswith(label) or " : " in message:  # our validators often name it already
        return message
    return f"{label} : {message[:1].lower()}{message[1:]}"


def field_errors_from_validation(
    errors: Iterable[Mapping[str, Any]], labels: Mapping[str, str] | None = None
) -> list[FieldError]:
    """With `labels` (field → its name on the form), each message names its field."""
    fields = []
    for err in errors:
        field = _field_name(tuple(err.get("loc", ())))
        label = (labels or {}).get(field)
        message = labelled_message(label, err) if label else french_message(err)
        fields.append(FieldError(field=field, message=message))
    return fields


def install_error_handlers(app: FastAPI) -> None:
    _document_error_body(app)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = Unprocessable(
            "Certaines valeurs sont invalides.", fields=field_errors_from_validation(list(exc.errors()))
        )
        return JSONResponse(error.body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # Only FastAPI and Starlette raise a bare 400, for a body they cannot read (JSON
            # that is not UTF-8, broken multipart): invalid input like any other, a 422.
            error = Unprocessable(
                "Corps de la requête illisible.", fields=[FieldError(field="body", message="Corps JSON invalide.")]
            )
            return JSONResponse(error.body(), status_code=422)
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        message = {404: "Ressource introuvable.", 405: "Méthode non autorisée."}.get(exc.status_code, str(exc.detail))
        return JSONResponse(
            ErrorBody(error=code, message=message).model_dump(),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        # The database is down, or (SQLite) another writer held it longer than the busy
        # timeout: nothing was done, and trying again shortly is the right move.
        logger.error("database_unavailable", extra=error_fields(exc))
        return JSONResponse(
            ErrorBody(
                error="database_unavailable", message="Service momentanément indisponible, réessayez."
            ).model_dump(),
            status_code=503,
            headers={"Retry-After": "2"},
        )

    # Any other error is answered (500) and logged, without its message, by
    # app.core.logging.RequestLogMiddleware.


# For the OpenAPI document: the error shapes each endpoint may answer with.
def _document_error_body(app: FastAPI) -> None:
    """Puts ErrorBody (and FieldError) in the OpenAPI components that `error_responses` refers to."""
    make_document = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = make_document()  # FastAPI keeps it as app.openapi_schema
        _, definitions = models_json_schema([(ErrorBody, "serialization")], ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions["$defs"])
        return schema

    app.openapi = document  # type: ignore[method-assign]


# Declared as JSON even on routes answering HTML or images (a flyer, a QR code): errors are JSON.
def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {code: {"content": json_error} for code in status_codes}

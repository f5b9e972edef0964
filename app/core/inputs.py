"""The limits every input meets before it reaches a rule or a query, in one place.

- Ids: our tables' keys are 32-bit INTEGERs (PostgreSQL). A path or query id outside
  1..2^31-1 cannot name a row: the API and the pages answer 422 naming the field (the type,
  `DbId`, says so in the OpenAPI document); FHIR reads, whose ids are strings, answer 404.
- Text: PostgreSQL cannot store NUL, and no database can encode a lone surrogate. Any such
  character in a query string, a path, a JSON body or a form is refused with a French 422
  naming the field (`refuse_unstorable_text`, a dependency of every route).
- Dates: a period's bounds are turned into Paris datetimes and moved by days; beyond
  1900-2999 that arithmetic overflows, so such dates are refused with a 422 naming the field."""

import json
import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, AwareDatetime, Field

MAX_DB_ID = 2**31 - 1

DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
"""A row's id in a path or a query: out of range is a 422 naming the field."""

_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_row_id(text: str) -> int | None:
    """The row id a FHIR id (or its numeric part) names, or None: ASCII digits only
    (`"³".isdigit()` is true) and within the column's range."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_DB_ID else None


EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
DATE_OUT_OF_RANGE = "Date hors limites (entre 1900 et 2999)."


def _date_in_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(DATE_OUT_OF_RANGE)
    return value


def _datetime_in_range(value: datetime) -> datetime:
    _date_in_range(value.date())
    return value


BoundedDate = Annotated[date, AfterValidator(_date_in_range)]
"""A date that period arithmetic (Paris midnight, a day or a week later) can handle."""
BoundedDatetime = Annotated[datetime, AfterValidator(_datetime_in_range)]
BoundedAwareDatetime = Annotated[AwareDatetime, AfterValidator(_datetime_in_range)]

# NUL (PostgreSQL text refuses it) and lone surrogates (not encodable in UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Caractère non autorisé (caractère nul ou invalide)."


def has_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def _bad_json_field(value: Any, path: tuple[Any, ...]) -> tuple[Any, ...] | None:
    if isinstance(value, str):
        return path if has_unstorable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if has_unstorable(key):
                return (*path, key)
            found = _bad_json_field(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_json_field(item, (*path, index))
            if found is not None:
                return found
    return None


async def refuse_unstorable_text(request: Request) -> None:
    """Every route's first check: no NUL or lone surrogate in its path, query, JSON or form."""
    found = _bad_parameter(request)
    if found is None and request.method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
        found = await _bad_body_field(request)
    if found is not None:
        raise RequestValidationError(
            [{"type": "value_error", "loc": found, "msg": UNSTORABLE_MESSAGE, "input": None, "ctx": {}}]
        )


def _bad_parameter(request: Request) -> tuple[str, str] | None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and has_unstorable(value):
            return ("path", name)
    for name, value in request.query_params.multi_items():
        if has_unstorable(name) or has_unstorable(value):
            return ("query", name)
    return None


async def _bad_body_field(request: Request) -> tuple[Any, ...] | None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.endswith("json"):
        body = await request.body()  # cached: FastAPI has read it already for the route
        try:
            document = json.loads(body)
        except ValueError:
            return None  # the route's own parsing answers for a body that is not JSON
        return _bad_json_field(document, ("body",))
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form()  # cached as well
        except Exception:  # noqa: BLE001 - a malformed form: the route's own parsing answers for it
            return None
        for name, value in form.multi_items():
            if has_unstorable(name) or (isinstance(value, str) and has_unstorable(value)):
                return ("body", name)
    return None

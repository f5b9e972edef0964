"""JSON logs that never carry personal data.

Uvicorn's access log is switched off: it prints the raw query string, which on this service
holds postcodes, communes and addresses. Our middleware logs the route *template* instead
(``/api/v1/territories/{slug}``), the status and the duration.

Nor do error logs carry the error's message: a database error quotes the statement's
parameters (SQLAlchemy) or the failing row (PostgreSQL's "Failing row contains (…)"), a library
may quote the value it refused. An error is logged by its class, the statement's name
(``INSERT patient_requests``), the request id and the code's frames, nothing else."""

import logging
import re
import sys
import time
import traceback
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.exc import StatementError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.metrics import observe_request

request_logger = logging.getLogger("orientation.http")
error_logger = logging.getLogger("orientation.errors")
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

_TABLE = re.compile(r"\b(?:INTO|UPDATE|FROM)\s+\"?([A-Za-z_][\w.]*)", re.IGNORECASE)


def statement_name(exc: BaseException) -> str | None:
    """``INSERT patient_requests``: the verb and the first table of the failing statement,
    without the statement itself (a literal in it could be a value)."""
    statement = getattr(exc, "statement", None) if isinstance(exc, StatementError) else None
    if not statement:
        return None
    verb = statement.split(None, 1)[0].upper()
    table = _TABLE.search(statement)
    return f"{verb} {table.group(1)}" if table else verb


def error_fields(exc: BaseException) -> dict[str, str | None]:
    """All that an error log line may say about an error."""
    cause = getattr(exc, "orig", None) or exc.__cause__
    return {
        "error_type": type(exc).__name__,
        "cause_type": type(cause).__name__ if cause is not None else None,
        "statement": statement_name(exc),
        "request_id": current_request_id.get(),
    }


def frames_only(exc: BaseException) -> str:
    """A traceback with the classes and the code's lines, never the messages."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append("".join(traceback.format_tb(current.__traceback__)) + type(current).__qualname__)
        current = current.__cause__ or current.__context__
    return "\nwhich caused:\n".join(reversed(parts))


class SafeJsonFormatter(JsonFormatter):
    """JSON lines; an exception attached to a record (uvicorn's, a library's) is written
    without its message."""

    def formatException(self, ei) -> str:
        return frames_only(ei[1]) if ei and ei[1] is not None else ""


def json_formatter() -> SafeJsonFormatter:
    return SafeJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs full URLs, query strings included (addresses sent to the geocoder).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # SQLAlchemy at INFO/DEBUG logs statements with their parameters and the rows read: patients'
    # data. Held at WARNING whatever LOG_LEVEL says (its warnings carry no values).
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm"):
        logging.getLogger(name).setLevel(logging.WARNING)


INTERNAL_ERROR = b'{"error":"internal_error","message":"Erreur interne du service.","fields":[]}'


class RequestLogMiddleware:
    """Logs every request, and answers 500 for an error nobody handled. That answer is given
    here, not by Starlette's ServerErrorMiddleware: that one re-raises the error to the
    server, which logs it with its message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        token = current_request_id.set(request_id)
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            error_logger.error("unhandled_error", extra={**error_fields(exc), "stack": frames_only(exc)})
            if not response_started:  # otherwise the client sees the connection end early
                headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(INTERNAL_ERROR))]
                await send_with_id({"type": "http.response.start", "status": 500, "headers": headers})
                await send_with_id({"type": "http.response.body", "body": INTERNAL_ERROR})
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")  # the template, never the path
            seconds = time.perf_counter() - started
            request_logger.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
            observe_request(scope["method"], route, status, seconds)
            current_request_id.reset(token)

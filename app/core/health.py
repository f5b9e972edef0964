from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    territories: int | None


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(request: Request) -> Health | JSONResponse:
    """Up, and the database answers. 503 when it does not, for load balancers."""
    try:
        with request.app.state.read_sessions() as session:
            count = session.execute(text("SELECT COUNT(*) FROM territories")).scalar_one()
    except Exception:
        body = Health(status="unavailable", database="unreachable", territories=None)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok", territories=count)


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    # Why not: the database does not answer, or its migrations are not this code's
    # (`orientation db upgrade`, or `serve` with its default --migrate).
    reason: Literal["database_unreachable", "migrations_not_current", "replica_unreachable"] | None = None
    database_revision: str | None = None
    code_revision: str | None = None
    # The read replica (READ_DATABASE_URL), when one is configured: "standby" (a hot standby
    # in recovery), "promoted" (it answers but is no standby any more: writes there would
    # never reach the primary), "unreachable" (the searches it serves would fail: not ready).
    replica: Literal["standby", "promoted", "unreachable"] | None = None


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(request: Request) -> Readiness | JSONResponse:
    """Ready to serve: the database answers AND its schema is at this code's migration head.
    503 otherwise, with the reason, so that a load balancer sends no traffic to an instance
    of a new version before `orientation db upgrade` ran (or to one of an old version after).
    /healthz stays the liveness check: a process that answers it needs no restart."""
    from app.core.migrations import code_head

    head = code_head()
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            try:
                revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except SQLAlchemyError:  # no migration ever ran here
                revision = None
    except Exception:
        body = Readiness(status="not_ready", reason="database_unreachable", code_revision=head)
        return JSONResponse(body.model_dump(), status_code=503)
    if revision != head:
        body = Readiness(
            status="not_ready", reason="migrations_not_current", database_revision=revision, code_revision=head
        )
        return JSONResponse(body.model_dump(), status_code=503)
    replica = _replica_state(request.app.state.replica_engine)
    if replica == "unreachable":
        body = Readiness(
            status="not_ready",
            reason="replica_unreachable",
            database_revision=revision,
            code_revision=head,
            replica=replica,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(status="ready", database_revision=revision, code_revision=head, replica=replica)


def _replica_state(engine) -> Literal["standby", "promoted", "unreachable"] | None:
    if engine is None:
        return None
    try:
        with engine.connect() as connection:
            in_recovery = connection.execute(text("SELECT pg_is_in_recovery()")).scalar()
    except Exception:
        return "unreachable"
    return "standby" if in_recovery else "promoted"

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

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

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.accounts.policy import Action
from app.accounts.principal import Principal, require
from app.audit.service import list_events
from app.core.dependencies import DbSession
from app.core.errors import error_responses
from app.core.inputs import MAX_DB_ID, BoundedAwareDatetime, DbId

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_user_id: int | None
    actor: str
    actor_role: str
    territory_id: int | None
    action: str
    object_type: str
    object_id: str
    client_address: str | None
    details: dict[str, int] | None = None


@router.get("/audit", response_model=list[AuditEventOut], responses=error_responses(401, 403))
def read_audit_trail(
    session: DbSession,
    principal: Annotated[Principal, require(Action.READ_AUDIT)],
    object_type: str | None = None,
    object_id: str | None = None,
    actor_user_id: DbId | None = None,
    since: BoundedAwareDatetime | None = None,
    until: BoundedAwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_ID)] = 0,
) -> list[AuditEventOut]:
    """The audit trail, newest first: a coordinator's CPTS, or everything for an admin."""
    events = list_events(
        session,
        principal,
        object_type=object_type,
        object_id=object_id,
        actor_user_id=actor_user_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return [AuditEventOut.model_validate(e) for e in events]

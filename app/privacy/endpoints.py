"""A person's rights, for the coordination (and admins). The person is named in the body of a
POST, never in the URL: addresses end up in access logs."""

from typing import Annotated

from fastapi import APIRouter, Response

from app.accounts.policy import Action
from app.accounts.principal import Principal, require
from app.core.dependencies import DbSession
from app.core.errors import error_responses
from app.core.inputs import DbId
from app.privacy import rights
from app.privacy.schemas import ErasureOut, PersonQuery, PersonRecords, RectifyIn, RequestRecord

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])

Coordinator = Annotated[Principal, require(Action.EXERCISE_RIGHTS)]


@router.post("/search", response_model=PersonRecords, responses=error_responses(401, 403, 422))
def search(data: PersonQuery, principal: Coordinator, session: DbSession) -> PersonRecords:
    """Every record of a person in the caller's CPTS: requests (with their history and
    messages), unscheduled-care bookings, other messages to their phone or e-mail. By phone,
    e-mail, or family name + given name + birth date. Audited (the records read, not the query)."""
    return rights.search(session, principal, data)


@router.post("/export", response_model=PersonRecords, responses=error_responses(401, 403, 422))
def export(data: PersonQuery, principal: Coordinator, session: DbSession, response: Response) -> PersonRecords:
    """The right of access: the same records as a JSON file to hand to the person (the
    workspace's /espace/personnes gives it as a printable page too)."""
    records = rights.export(session, principal, data)
    name = rights.export_filename(records.searched_at)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return records


@router.post("/erase", response_model=ErasureOut, responses=error_responses(401, 403, 422))
def erase(data: PersonQuery, principal: Coordinator, session: DbSession) -> ErasureOut:
    """The right to erasure, now: the person's names, birth date (but its ten-year age band),
    contact, address, free text, notes and messages go; an open request is closed ("withdrew");
    the anonymous facts the indicators count stay. Searching again finds nothing."""
    return rights.erase(session, principal, data)


@router.patch(
    "/requests/{request_id}", response_model=RequestRecord, responses=error_responses(401, 403, 404, 409, 422)
)
def rectify(request_id: DbId, data: RectifyIn, principal: Coordinator, session: DbSession) -> RequestRecord:
    """The right to rectification: names, birth date, phone, e-mail or street address of a request."""
    request = rights.rectify(session, principal, request_id, data)
    return rights.request_record(request)

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from app.accounts.policy import Action
from app.accounts.principal import Principal, require
from app.audit.service import record_read
from app.core.database import utcnow
from app.core.dependencies import DbSession, Geocoding, ReadSession
from app.core.errors import FieldError, Unprocessable, error_responses
from app.core.inputs import BoundedDatetime, DbId
from app.snp import repository, service
from app.snp.schemas import (
    BookingCreate,
    BookingOut,
    CentreCreate,
    CentreOut,
    OutcomeIn,
    PatternCreate,
    PatternOut,
    SearchAnswer,
    SlotCreate,
    SlotList,
    SlotOut,
)

router = APIRouter(prefix="/api/v1/snp", tags=["unscheduled care"])

SlotManager = Annotated[Principal, require(Action.MANAGE_SLOTS)]
CentreManager = Annotated[Principal, require(Action.MANAGE_CENTRES)]
Searcher = Annotated[Principal, require(Action.SEARCH_SLOTS)]
Booker = Annotated[Principal, require(Action.BOOK_SLOT)]
Canceller = Annotated[Principal, require(Action.CANCEL_BOOKING)]


# ---- Slots and patterns --------------------------------------------------------------------


@router.post(
    "/slots", response_model=SlotOut, status_code=status.HTTP_201_CREATED, responses=error_responses(401, 403, 409, 422)
)
def create_slot(data: SlotCreate, principal: SlotManager, session: DbSession, response: Response) -> SlotOut:
    """One slot. A doctor publishes its own; coordinators any doctor's or the centre's."""
    slot = service.create_slot(session, principal, data)
    response.headers["Location"] = f"/api/v1/snp/slots/{slot.id}"
    return service.slot_view(session, principal, slot.id)


@router.get("/slots", response_model=SlotList, responses=error_responses(401, 403, 422))
def list_slots(
    principal: SlotManager,
    session: DbSession,
    start: Annotated[BoundedDatetime | None, Query(alias="from", description="Default: now.")] = None,
    end: Annotated[BoundedDatetime | None, Query(alias="to", description="Default: 7 days after `from`.")] = None,
    cpts: str | None = None,
    doctor_id: DbId | None = None,
    centre_id: DbId | None = None,
    slot_status: Annotated[str | None, Query(alias="status", pattern="^(free|booked)$")] = None,
) -> SlotList:
    """The board: slots meeting the period, free and booked, with their booking."""
    start = start or utcnow()
    end = end or start + timedelta(days=7)
    if end - start > timedelta(days=62):
        raise Unprocessable(
            "Période de deux mois au plus.", fields=[FieldError(field="to", message="Deux mois au plus.")]
        )
    territory_id = service.territory_in_scope(session, principal, cpts).id if cpts else None
    filters = repository.SlotFilters(start, end, territory_id, doctor_id, centre_id, slot_status)
    return SlotList(items=service.slots(session, principal, filters))


@router.get("/slots/{slot_id}", response_model=SlotOut, responses=error_responses(401, 403, 404))
def get_slot(slot_id: DbId, principal: SlotManager, session: DbSession) -> SlotOut:
    return service.slot_view(session, principal, slot_id)


@router.delete(
    "/slots/{slot_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 403, 404, 409)
)
def delete_slot(slot_id: DbId, principal: SlotManager, session: DbSession) -> Response:
    """Removes a free slot (a booked one: cancel its booking first, 409)."""
    service.delete_slot(session, principal, slot_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/patterns",
    response_model=PatternOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 422),
)
def create_pattern(data: PatternCreate, principal: SlotManager, session: DbSession) -> PatternOut:
    """A recurring pattern in Paris time, expanded into slots at once (slots that would
    overlap an existing one are skipped)."""
    out = service.create_pattern(session, principal, data)
    return out


@router.get("/patterns", response_model=list[PatternOut], responses=error_responses(401, 403))
def list_patterns(principal: SlotManager, session: DbSession) -> list[PatternOut]:
    return service.patterns(session, principal)


@router.put("/patterns/{pattern_id}", response_model=PatternOut, responses=error_responses(401, 403, 404, 422))
def update_pattern(pattern_id: DbId, data: PatternCreate, principal: SlotManager, session: DbSession) -> PatternOut:
    """Replaces the pattern's free future slots; booked slots are kept as they are."""
    out = service.update_pattern(session, principal, pattern_id, data)
    return out


@router.delete("/patterns/{pattern_id}", response_model=PatternOut, responses=error_responses(401, 403, 404))
def delete_pattern(pattern_id: DbId, principal: SlotManager, session: DbSession) -> PatternOut:
    """Ends the pattern and removes its free future slots; booked slots are kept."""
    out = service.delete_pattern(session, principal, pattern_id)
    return out


# ---- Centres ---------------------------------------------------------------------------------


@router.post(
    "/centres", response_model=CentreOut, status_code=status.HTTP_201_CREATED, responses=error_responses(401, 403, 422)
)
def create_centre(data: CentreCreate, principal: CentreManager, session: DbSession, geocoding: Geocoding) -> CentreOut:
    """The CPTS's own unscheduled-care centre (CSNP), which may publish slots too."""
    centre = service.create_centre(session, geocoding, principal, data)
    return service.centre_out(session, centre)


@router.get("/centres", response_model=list[CentreOut], responses=error_responses(401, 403))
def list_centres(principal: CentreManager, session: DbSession) -> list[CentreOut]:
    return service.centres(session, principal)


# ---- Search and booking ----------------------------------------------------------------------


@router.get("/search", response_model=SearchAnswer, responses=error_responses(401, 403, 422))
def search(
    principal: Searcher,
    reads: ReadSession,
    geocoding: Geocoding,
    cpts: str,
    postcode: Annotated[str | None, Query(pattern=r"^\d{5}$", description="The caller's postcode…")] = None,
    city: Annotated[str | None, Query(max_length=100, description="…and commune")] = None,
    address: Annotated[str | None, Query(max_length=200)] = None,
    latitude: Annotated[float | None, Query(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
    start: Annotated[BoundedDatetime | None, Query(alias="from", description="Default: now.")] = None,
    end: Annotated[BoundedDatetime | None, Query(alias="to", description="Default: 48 h after `from`.")] = None,
    kind: Annotated[str | None, Query(pattern="^(AMB|HH|VR)$")] = None,
    max_distance_km: Annotated[float | None, Query(gt=0, le=200)] = None,
    doctor_id: DbId | None = None,
    profession: Annotated[
        str | None, Query(max_length=2, description="RPPS profession code (10 médecin, 60 infirmier…); default: all.")
    ] = None,
) -> SearchAnswer:
    """Free bookable slots for a caller: soonest first, nearest first at the same time, of one
    profession if asked (each result says its practitioner's); says how many practitioners and
    slots it looked at. Reads from the read replica when one is configured
    (READ_DATABASE_URL); booking one of its results always checks the primary."""
    territory = service.territory_in_scope(reads.session, principal, cpts)
    point = service.patient_point(reads.session, geocoding, latitude, longitude, postcode, city, address)
    return service.search(reads, principal, territory, point, start, end, kind, max_distance_km, doctor_id, profession)


def _reloaded(session: Session, principal: Principal, booking_id: int) -> BookingOut:
    session.flush()  # before forgetting what was loaded: the reload reads what was written
    session.expire_all()
    return service.booking_out(session, service.get_booking(session, principal, booking_id))


@router.post(
    "/slots/{slot_id}/bookings",
    response_model=BookingOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def book_slot(
    slot_id: DbId, data: BookingCreate, principal: Booker, session: DbSession, request: Request, response: Response
) -> BookingOut:
    """Books the slot for a caller, exactly once: of concurrent attempts one gets 201, the
    others 409. The patient is sent a confirmation (SMS to a mobile, else e-mail)."""
    booking = service.book(session, request.app.state.settings, principal, slot_id, data, origin="cpts")
    response.headers["Location"] = f"/api/v1/snp/bookings/{booking.id}"
    return _reloaded(session, principal, booking.id)


@router.get("/bookings/{booking_id}", response_model=BookingOut, responses=error_responses(401, 403, 404))
def get_booking(booking_id: DbId, principal: SlotManager, session: DbSession, request: Request) -> BookingOut:
    """A booking with its messages (confirmation, SAS push) and their delivery status."""
    booking = service.get_booking(session, principal, booking_id)
    record_read(session, request.app.state.write_sessions, principal, "snp_booking", booking.id, booking.territory_id)
    return service.booking_out(session, booking)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut, responses=error_responses(401, 403, 404, 409))
def cancel_booking(booking_id: DbId, principal: Canceller, session: DbSession, request: Request) -> BookingOut:
    """Cancels and frees the slot; the patient is told, and the SAS when it booked."""
    service.cancel(session, request.app.state.settings, principal, booking_id)
    return _reloaded(session, principal, booking_id)


@router.post(
    "/bookings/{booking_id}/outcome", response_model=BookingOut, responses=error_responses(401, 403, 404, 409, 422)
)
def record_outcome(
    booking_id: DbId, data: OutcomeIn, principal: SlotManager, session: DbSession, request: Request
) -> BookingOut:
    """After the time: the patient came (`fulfilled`) or not (`noshow`)."""
    service.record_outcome(session, request.app.state.settings, principal, booking_id, data.outcome)
    return _reloaded(session, principal, booking_id)

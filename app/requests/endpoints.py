from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from app.accounts.policy import Action
from app.accounts.principal import Principal, optional_principal, require
from app.audit.service import record_read, record_reads
from app.core.dependencies import DbSession, Geocoding, ReadSession, commit_unit_of_work
from app.core.errors import error_responses
from app.core.inputs import DbId
from app.core.links import public_base_url
from app.core.ratelimit import INTAKE
from app.requests import repository, service
from app.requests.messages import compose_doctor_list, send_doctor_list
from app.requests.models import PatientRequest, RequestStatus
from app.requests.ranking import Ranking
from app.requests.schemas import (
    MessagePreview,
    NoteIn,
    RequestCreate,
    RequestOut,
    RequestPage,
    SendListIn,
    SubmissionOut,
    SuggestionOut,
    SuggestionsOut,
    TerritoryBrief,
    TransitionIn,
)

router = APIRouter(prefix="/api/v1/requests", tags=["requests"])

Handler = Annotated[Principal, require(Action.HANDLE_REQUESTS)]
Reader = Annotated[Principal, require(Action.READ_REQUESTS)]


@router.post(
    "",
    response_model=SubmissionOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": SubmissionOut, "description": "Already open: the existing request, updated."},
        **error_responses(401, 403, 422, 429),  # 401: a token sent that is not (or no longer) valid
    },
    dependencies=[Depends(INTAKE)],
)
async def submit(
    data: RequestCreate,
    request: Request,
    response: Response,
    session: DbSession,
    geocoding: Geocoding,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> SubmissionOut:
    """The questionnaire: from the patient or a relative (no account), or from a signed-in
    professional or coordinator on the patient's behalf. 201 means stored."""
    public_url = public_base_url(request)

    def work() -> tuple[SubmissionOut, bool]:
        # The database work, the answer (what it reads is at hand: nothing left to load) and
        # the commit in one hop to the thread pool: a 201 still means committed.
        patient_request, duplicate, follow_up = service.submit_request(session, geocoding, principal, data, public_url)
        territory = patient_request.territory
        answer = SubmissionOut(
            id=patient_request.id,
            status=patient_request.status,
            duplicate=duplicate,
            territory=TerritoryBrief(slug=territory.slug, name=territory.name)
            if territory and patient_request.status != RequestStatus.OUT_OF_TERRITORY
            else None,
            commune=patient_request.commune_name,
            message=service.submission_message(patient_request, duplicate, data.cpts),
            follow_up_url=follow_up,
        )
        commit_unit_of_work(session)
        return answer, duplicate

    answer, duplicate = await run_in_threadpool(work)
    if duplicate:
        response.status_code = status.HTTP_200_OK
    return answer


@router.get("", response_model=RequestPage, responses=error_responses(401, 403))
def queue(
    principal: Reader,
    session: DbSession,
    request: Request,
    cpts: str | None = None,
    status_: Annotated[list[RequestStatus] | None, Query(alias="status")] = None,
    source: str | None = None,
    commune: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestPage:
    """The queue, most urgent first (priority groups, then waiting time). Open requests by default."""
    filters = repository.QueueFilters(cpts=cpts, source=source, commune=commune, q=q)
    if status_:
        filters = repository.QueueFilters(
            cpts=cpts, statuses=tuple(s.value for s in status_), source=source, commune=commune, q=q
        )
    shown = service.queue(session, principal, filters, page, per_page)
    # The queue shows names and ages: who saw which requests goes to the audit trail.
    record_reads(session, request.app.state.write_sessions, principal, "patient_request", shown.read)
    return RequestPage(items=shown.items, total=shown.total, page=page, per_page=per_page)


@router.get("/{request_id}", response_model=RequestOut, responses=error_responses(401, 403, 404))
def read(request_id: DbId, principal: Reader, session: DbSession, request: Request) -> RequestOut:
    """The whole record, with its history. Every read is written to the audit trail."""
    patient_request = service.get_request(session, principal, request_id)
    record_read(
        session,
        request.app.state.write_sessions,
        principal,
        "patient_request",
        patient_request.id,
        patient_request.territory_id,
    )
    return service.request_out(patient_request)


@router.post("/{request_id}/transitions", response_model=RequestOut, responses=error_responses(401, 403, 404, 409, 422))
def move(request_id: DbId, data: TransitionIn, principal: Handler, session: DbSession) -> RequestOut:
    """received → proposed (list sent) → matched (the doctor's places decrease) or closed (with a reason)."""
    return service.request_out(service.transition(session, principal, request_id, data))


@router.post("/{request_id}/notes", response_model=RequestOut, responses=error_responses(401, 403, 404, 422))
def note(request_id: DbId, data: NoteIn, principal: Handler, session: DbSession) -> RequestOut:
    return service.request_out(service.add_note(session, principal, request_id, data))


@router.post(
    "/{request_id}/messages/preview", response_model=MessagePreview, responses=error_responses(401, 403, 404, 409, 422)
)
def preview_list(request_id: DbId, data: SendListIn, principal: Handler, session: DbSession) -> MessagePreview:
    """The message `send-list` would send, to read before sending it."""
    return compose_doctor_list(session, principal, request_id, data)[1]


@router.post("/{request_id}/send-list", response_model=RequestOut, responses=error_responses(401, 403, 404, 409, 422))
def send_list(request_id: DbId, data: SendListIn, principal: Handler, session: DbSession) -> RequestOut:
    """Sends the chosen doctors to the patient (SMS or e-mail, through the outbox) and marks
    the request `proposed`, in one transaction."""
    send_doctor_list(session, principal, request_id, data)
    session.expire_all()
    return service.request_out(service.get_request(session, principal, request_id))


@router.get("/{request_id}/suggestions", response_model=SuggestionsOut, responses=error_responses(401, 403, 404))
async def suggest(request_id: DbId, principal: Handler, reads: ReadSession, request: Request) -> SuggestionsOut:
    """Volunteer doctors for this patient, nearest first, each with why it qualifies (the
    doctors read from the read replica when one is configured, the request on the primary)."""

    def read() -> tuple[PatientRequest, Ranking]:  # the database work, in one hop to the thread pool
        patient_request, ranking = service.suggestions(reads, principal, request_id)
        record_read(
            reads.primary,
            request.app.state.write_sessions,
            principal,
            "patient_request",
            patient_request.id,
            patient_request.territory_id,
        )
        return patient_request, ranking

    patient_request, ranking = await run_in_threadpool(read)

    return SuggestionsOut(
        request_id=patient_request.id,
        considered=ranking.considered,
        doctors=[SuggestionOut.from_suggestion(s) for s in ranking.eligible],
        stale=[SuggestionOut.from_suggestion(s) for s in ranking.stale],
    )

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile, status
from pydantic import BaseModel

from app.accounts.policy import Action
from app.accounts.principal import Principal, require
from app.core.dependencies import DbSession, Geocoding, ReadSession
from app.core.errors import Conflict, FieldError, Unprocessable, error_responses
from app.core.inputs import DbId
from app.core.links import public_base_url
from app.doctors import reminders, repository, service
from app.doctors.importer import import_doctors
from app.doctors.links import make_link
from app.doctors.schemas import (
    Availability,
    ConfirmationLinkOut,
    DoctorCreate,
    DoctorOut,
    DoctorPage,
    DoctorUpdate,
    ImportReport,
)

router = APIRouter(prefix="/api/v1/doctors", tags=["doctors"])

DoctorManager = Annotated[Principal, require(Action.MANAGE_DOCTORS)]
DoctorEditor = Annotated[Principal, require(Action.EDIT_DOCTOR)]
MAX_IMPORT_BYTES = 20 * 1024 * 1024


@router.post(
    "",
    response_model=DoctorOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_doctor(
    data: DoctorCreate, principal: DoctorManager, session: DbSession, geocoding: Geocoding, response: Response
) -> DoctorOut:
    """Registers a volunteer practitioner: a doctor by default, or another health professional
    (`profession`), who publishes unscheduled-care slots for the CPTS only. Each practice is
    geocoded and must lie in the CPTS."""
    doctor = service.create_doctor(session, geocoding, principal, data)
    response.headers["Location"] = f"/api/v1/doctors/{doctor.id}"
    return service.doctor_out(doctor)


@router.get("", response_model=DoctorPage, responses=error_responses(401, 403))
def list_doctors(
    principal: DoctorEditor,
    reads: ReadSession,
    cpts: str | None = None,
    commune: Annotated[str | None, Query(description="INSEE code of a practice's commune")] = None,
    accepting: Annotated[bool | None, Query(description="Can take a new patient today")] = None,
    stale: Annotated[bool | None, Query(description="Not confirmed for six months")] = None,
    active: bool | None = True,
    q: Annotated[str | None, Query(max_length=100, description="Name, e-mail or RPPS")] = None,
    profession: Annotated[
        str | None, Query(pattern=r"^\d{2}$", description="RPPS profession code (10 médecin…)")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DoctorPage:
    filters = repository.DoctorFilters(
        cpts=cpts, commune=commune, accepting=accepting, stale=stale, active=active, q=q, profession=profession
    )
    doctors, total = service.list_doctors(reads.session, principal, filters, page, per_page)  # the replica, if any
    return DoctorPage(items=[service.doctor_out(d) for d in doctors], total=total, page=page, per_page=per_page)


@router.get("/{doctor_id}", response_model=DoctorOut, responses=error_responses(401, 403, 404))
def get_doctor(doctor_id: DbId, principal: DoctorEditor, session: DbSession) -> DoctorOut:
    return service.doctor_out(service.get_doctor(session, principal, doctor_id))


@router.patch("/{doctor_id}", response_model=DoctorOut, responses=error_responses(401, 403, 404, 422))
def update_doctor(
    doctor_id: DbId, data: DoctorUpdate, principal: DoctorEditor, session: DbSession, geocoding: Geocoding
) -> DoctorOut:
    """Coordinators of its CPTS, or the doctor itself."""
    return service.doctor_out(service.update_doctor(session, geocoding, principal, doctor_id, data))


@router.put("/{doctor_id}/availability", response_model=DoctorOut, responses=error_responses(401, 403, 404, 422))
def confirm_availability(doctor_id: DbId, data: Availability, principal: DoctorEditor, session: DbSession) -> DoctorOut:
    """What the doctor offers now; renews `confirmed_at` for six months."""
    doctor = service.get_doctor(session, principal, doctor_id)
    return service.doctor_out(service.confirm_availability(session, principal, doctor, data))


@router.post("/{doctor_id}/deactivate", response_model=DoctorOut, responses=error_responses(401, 403, 404))
def deactivate_doctor(doctor_id: DbId, principal: DoctorManager, session: DbSession) -> DoctorOut:
    return service.doctor_out(service.set_active(session, principal, doctor_id, False))


@router.post("/{doctor_id}/reactivate", response_model=DoctorOut, responses=error_responses(401, 403, 404))
def reactivate_doctor(doctor_id: DbId, principal: DoctorManager, session: DbSession) -> DoctorOut:
    return service.doctor_out(service.set_active(session, principal, doctor_id, True))


@router.post(
    "/{doctor_id}/confirmation-link",
    response_model=ConfirmationLinkOut,
    responses=error_responses(401, 403, 404),
)
def confirmation_link(
    doctor_id: DbId, principal: DoctorManager, session: DbSession, request: Request
) -> ConfirmationLinkOut:
    """A signed link for the doctor to confirm its availability without an account."""
    doctor = service.get_doctor(session, principal, doctor_id)
    url, expires_at = make_link(request.app.state.settings, public_base_url(request), doctor)
    return ConfirmationLinkOut(url=url, expires_at=expires_at)


class RemindersOut(BaseModel):
    queued: int


@router.post("/reminders", response_model=RemindersOut, responses=error_responses(401, 403, 422))
def remind_stale_doctors(
    principal: DoctorManager, session: DbSession, request: Request, cpts: Annotated[str, Query()]
) -> RemindersOut:
    """E-mails every stale doctor of the CPTS its confirmation link (through the outbox)."""
    return RemindersOut(
        queued=reminders.remind_stale(session, request.app.state.settings, public_base_url(request), principal, cpts)
    )


@router.post("/{doctor_id}/reminder", response_model=DoctorOut, responses=error_responses(401, 403, 404))
def remind_doctor(doctor_id: DbId, principal: DoctorManager, session: DbSession, request: Request) -> DoctorOut:
    """E-mails this doctor its confirmation link (through the outbox)."""
    return service.doctor_out(
        reminders.remind_one(session, request.app.state.settings, public_base_url(request), principal, doctor_id)
    )


@router.post("/{doctor_id}/take-place", response_model=DoctorOut, responses=error_responses(401, 403, 404, 409))
def take_place(doctor_id: DbId, principal: DoctorManager, session: DbSession) -> DoctorOut:
    """A patient was matched to this doctor: one place fewer (409 when none is left)."""
    if not service.take_place(session, principal, doctor_id):
        raise Conflict("Ce médecin n'a plus de place disponible.")
    session.expire_all()
    return service.doctor_out(service.get_doctor(session, principal, doctor_id))


@router.post("/import", response_model=ImportReport, responses=error_responses(401, 403, 413, 422))
def import_csv(
    file: UploadFile,
    principal: DoctorManager,
    session: DbSession,
    geocoding: Geocoding,
    cpts: Annotated[str, Query(description="Slug of the CPTS")],
    skip_invalid: bool = False,
) -> ImportReport:
    """CSV of doctors (French headers). Nothing is written if a row is invalid, unless
    `skip_invalid`; the report lists every invalid row with its line number."""
    raw = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise Unprocessable(
            "Fichier trop volumineux (20 Mo au plus).", fields=[FieldError(field="file", message="20 Mo au plus.")]
        )
    return import_doctors(session, geocoding, principal, cpts, raw, skip_invalid=skip_invalid)

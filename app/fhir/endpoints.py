"""/fhir: the interfaces the SAS platform calls (INT_R04 slot search and reads, INT_R02
regulator accounts). Answers are application/fhir+json; errors are OperationOutcomes."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.accounts.regulators import RegulatorConflict, get_regulator, regulator_data, upsert_regulator
from app.core.constraints import flush_or_conflict
from app.core.database import autocommit_reads, utcnow
from app.core.dependencies import DbSession, ReadEngine
from app.core.errors import Conflict
from app.core.inputs import parse_row_id
from app.core.links import public_base_url
from app.core.settings import Settings
from app.doctors import service as doctors_service
from app.doctors.models import Doctor, PracticeLocation
from app.fhir import feed
from app.fhir import slots as build
from app.fhir.capability import capability_statement
from app.fhir.outcome import FhirError, FhirResponse, negotiate_format
from app.fhir.practitioners import parse_identifier_query, parse_regulator, regulator_resource
from app.fhir.profiles import FHIR_JSON
from app.fhir.search import parse_slot_search
from app.fhir.security import require_sas_platform
from app.snp import service as snp_service
from app.snp.sas_links import sas_booking_links
from app.territories.models import Territory
from app.territories.service import get_territory_by_id

# + {id}/reserver?origin=sas&sas=…: the page a regulator lands on from the SAS, with the signed
# token that lets it in (app.snp.sas_links).
BOOKING_PATH = "/espace/soins-non-programmes/creneaux/"
router = APIRouter(
    prefix="/fhir", tags=["fhir"], dependencies=[Depends(require_sas_platform), Depends(negotiate_format)]
)

_FHIR_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {FHIR_JSON: {}}, "description": "A FHIR resource."},
    400: {"description": "OperationOutcome"},
    401: {"description": "OperationOutcome"},
    403: {"description": "OperationOutcome"},
    404: {"description": "OperationOutcome"},
    406: {"description": "OperationOutcome"},
}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _base(request: Request) -> str:
    return public_base_url(request) + "/fhir"


def _booking_url(request: Request):
    """Each slot's booking link, signed for that slot; one expiry for the whole answer."""
    prefix = public_base_url(request) + BOOKING_PATH
    links = sas_booking_links(request.app)
    expires = links.expires(utcnow())
    return lambda slot_id: f"{prefix}{slot_id}/reserver?origin=sas&sas={links.token(slot_id, expires)}"


FRAGMENT_BOOKING_PREFIX = feed.BASE + BOOKING_PATH


def _fragment_cache(request: Request) -> feed.FragmentCache:
    """The worker's fragments of the feed, made on first use."""
    cache = getattr(request.app.state, "sas_feed_fragments", None)
    if cache is None:
        cache = feed.FragmentCache(_settings(request).sas_feed_cache_practitioners)
        request.app.state.sas_feed_fragments = cache
    return cache


def _not_found(resource_type: str, resource_id: str) -> FhirError:
    return FhirError(404, "not-found", f"{resource_type}/{resource_id} inconnu.")


@router.get("/metadata", response_class=FhirResponse, responses=_FHIR_ANSWER)
def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement of this server."""
    return FhirResponse(capability_statement(_base(request)))


@router.get("/Slot", response_class=FhirResponse, responses=_FHIR_ANSWER)
def search_slots(request: Request, engines: ReadEngine) -> Response:
    """INT_R04: free slots of 1–25 practitioners in a window, as a searchset Bundle, e.g.
    `?start=ge2026-06-12T16:20:00.000+02:00&start=le2026-06-15T16:20:00.000+02:00
    &schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810002909371&status=free
    &_include=Slot:schedule&_include:iterate=Schedule:actor&_include=Slot:service-type-reference
    &_include:iterate=HealthcareService:organization`."""
    search = parse_slot_search(request.query_params)
    parts = []
    free: set[int] | None = None
    if search.rpps:
        # The read replica, when configured: the versions, the rebuilt fragments and so the
        # candidate slots all come from it (one database, never a mix of two).
        with autocommit_reads(engines.read) as connection:
            parts = feed.fragments(
                connection, _fragment_cache(request), search.rpps, search.start, search.end, FRAGMENT_BOOKING_PREFIX
            )
        if engines.from_replica and (candidates := feed.slot_ids(parts, search.start, search.end)):
            # Never a slot the primary has booked (docs/deploy.md): the answer's ids, checked there.
            with autocommit_reads(engines.primary) as connection:
                free = snp_service.free_on_primary(connection, candidates)
    public_base = public_base_url(request)
    self_url = f"{public_base}/fhir/Slot" + (f"?{request.url.query}" if request.url.query else "")
    links = sas_booking_links(request.app)
    expires = links.expires(utcnow())
    body = feed.searchset_bytes(
        parts,
        search.start,
        search.end,
        build.Includes(search.include, search.iterate),
        public_base,
        self_url,
        lambda slot_id: links.token(slot_id, expires),
        free,
    )
    return Response(body, media_type=FHIR_JSON)


@router.get("/Slot/{slot_id}", response_class=FhirResponse, responses=_FHIR_ANSWER)
def read_slot(slot_id: str, request: Request, session: DbSession) -> FhirResponse:
    number = parse_row_id(slot_id)
    row = snp_service.sas_free_slot(session, number) if number is not None else None
    if row is None:
        raise _not_found("Slot", slot_id)
    return FhirResponse(build.slot(row, _booking_url(request)(row.slot_id)))


def _doctor_at(session, resource_id: str) -> tuple[Doctor, PracticeLocation]:
    doctor_part, _, location_part = resource_id.partition("-")
    doctor_id, location_id = parse_row_id(doctor_part), parse_row_id(location_part)
    if doctor_id is None or location_id is None:
        raise FhirError(404, "not-found", f"{resource_id} inconnu.")
    found = doctors_service.active_practice(session, doctor_id, location_id)
    if found is None:
        raise FhirError(404, "not-found", f"{resource_id} inconnu.")
    return found


def _at_centre(session, resource_id: str):
    """ "12-c3": doctor 12 at centre 3, whose SAS-visible slots it works (None: not that form)."""
    doctor_part, _, place = resource_id.partition("-")
    if not place.startswith("c"):
        return None
    doctor_id, centre_id = parse_row_id(doctor_part), parse_row_id(place[1:])
    row = snp_service.sas_centre_schedule(session, doctor_id, centre_id) if doctor_id and centre_id else None
    if row is None:
        raise FhirError(404, "not-found", f"{resource_id} inconnu.")
    return row


@router.get("/Schedule/{schedule_id}", response_class=FhirResponse, responses=_FHIR_ANSWER)
def read_schedule(schedule_id: str, session: DbSession) -> FhirResponse:
    if (row := _at_centre(session, schedule_id)) is not None:
        return FhirResponse(build.schedule(row.doctor_id, row.place_id))
    doctor, location = _doctor_at(session, schedule_id)
    return FhirResponse(build.schedule(doctor.id, location.id))


@router.get("/PractitionerRole/{role_id}", response_class=FhirResponse, responses=_FHIR_ANSWER)
def read_practitioner_role(role_id: str, session: DbSession) -> FhirResponse:
    if (row := _at_centre(session, role_id)) is not None:
        return FhirResponse(
            build.practitioner_role(
                row.doctor_id, row.place_id, row.address, row.postcode, row.city, row.location_phone or row.doctor_phone
            )
        )
    doctor, location = _doctor_at(session, role_id)
    return FhirResponse(
        build.practitioner_role(
            doctor.id, location.id, location.address, location.postcode, location.city, location.phone or doctor.phone
        )
    )


@router.get("/Practitioner/{practitioner_id}", response_class=FhirResponse, responses=_FHIR_ANSWER)
def read_practitioner(practitioner_id: str, session: DbSession) -> FhirResponse:
    kind, _, digits = practitioner_id.partition("-")
    number = parse_row_id(digits)
    if number is not None and kind == "doc":
        doctor = doctors_service.active_doctor(session, number)
        if doctor is not None:
            return FhirResponse(build.practitioner(doctor.id, doctor.rpps, doctor.family_name, doctor.given_name))
    if number is not None and kind == "reg":
        user = get_regulator(session, number)
        if user is not None:
            return FhirResponse(regulator_resource(user.id, regulator_data(session, user)))
    raise _not_found("Practitioner", practitioner_id)


def _territory(session, resource_id: str) -> Territory:
    number = parse_row_id(resource_id)
    territory = get_territory_by_id(session, number) if number is not None else None
    if territory is None:
        raise FhirError(404, "not-found", f"{resource_id} inconnu.")
    return territory


@router.get("/HealthcareService/{service_id}", response_class=FhirResponse, responses=_FHIR_ANSWER)
def read_healthcare_service(service_id: str, session: DbSession) -> FhirResponse:
    territory = _territory(session, service_id)
    return FhirResponse(build.healthcare_service(territory.id, territory.name))


@router.get("/Organization/{organization_id}", response_class=FhirResponse, responses=_FHIR_ANSWER)
def read_organization(organization_id: str, session: DbSession) -> FhirResponse:
    territory = _territory(session, organization_id)
    return FhirResponse(build.organization(territory.id, territory.name, territory.finess, territory.phone))


async def _resource_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise FhirError(400, "structure", "Corps JSON illisible.") from None


ResourceBody = Annotated[Any, Depends(_resource_body)]


def _save_regulator(request: Request, session, body: Any, by_identifier: tuple[str, str] | None) -> Response:
    data = parse_regulator(body)
    try:
        user, created = upsert_regulator(session, _settings(request), public_base_url(request), data, by_identifier)
        flush_or_conflict(session)  # a rival that took the e-mail or an identifier meanwhile: the same answer
    except (RegulatorConflict, Conflict):
        raise FhirError(
            422, "business-rule", "Cette adresse e-mail ou cet identifiant appartient à un autre compte."
        ) from None
    resource = regulator_resource(user.id, regulator_data(session, user))
    location = f"{_base(request)}/Practitioner/reg-{user.id}"
    return FhirResponse(resource, status_code=201 if created else 200, headers={"Location": location})


@router.post("/Practitioner", response_class=FhirResponse, status_code=201, responses=_FHIR_ANSWER)
def create_regulator(request: Request, session: DbSession, body: ResourceBody) -> Response:
    """INT_R02: creates a regulator account (201 + Location). Sent again for a known
    identifier, it updates that account (200)."""
    return _save_regulator(request, session, body, None)


@router.put("/Practitioner", response_class=FhirResponse, responses=_FHIR_ANSWER)
def update_regulator(
    request: Request, session: DbSession, body: ResourceBody, identifier: str | None = None
) -> Response:
    """INT_R02 conditional update `PUT /fhir/Practitioner?identifier=system|value`; an unknown
    identifier creates the account (201), as the guide asks."""
    by_identifier = parse_identifier_query(identifier)
    return _save_regulator(request, session, body, by_identifier)

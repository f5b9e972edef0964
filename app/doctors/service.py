"""The rules of the volunteer doctors registry."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.access import may_act_in
from app.accounts.policy import Action, ensure, may
from app.accounts.principal import Principal
from app.audit.service import record
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.doctors import professions, repository
from app.doctors.models import Doctor, PracticeLocation
from app.doctors.schemas import (
    Availability,
    DoctorCreate,
    DoctorOut,
    DoctorUpdate,
    LocationIn,
    LocationOut,
)
from app.doctors.specialties import GENERAL_PRACTICE, SPECIALTIES
from app.geocoding.service import GeocodingService
from app.snp.repository import resync_sas_visibility
from app.snp.rules import sas_serves
from app.territories.models import Territory
from app.territories.residency import TerritoryMap, check_residency

AVAILABILITY_FIELDS = tuple(Availability.model_fields)


def doctor_out(doctor: Doctor) -> DoctorOut:
    return DoctorOut(
        id=doctor.id,
        cpts=doctor.territory.slug,
        rpps=doctor.rpps,
        civility=doctor.civility,
        family_name=doctor.family_name,
        given_name=doctor.given_name,
        profession=doctor.profession,
        profession_label=professions.label(doctor.profession),
        specialty=doctor.specialty or None,
        specialty_label=SPECIALTIES.get(doctor.specialty, doctor.specialty) if doctor.specialty else None,
        email=doctor.email,
        phone=doctor.phone,
        active=doctor.active,
        psc_sign_in_allowed=doctor.psc_sign_in_allowed,
        locations=[LocationOut.model_validate(loc) for loc in doctor.locations],
        availability=availability_of(doctor),
        confirmed_at=doctor.confirmed_at,
        stale=doctor.is_stale(),
        created_at=doctor.created_at,
        updated_at=doctor.updated_at,
    )


def availability_of(doctor: Doctor) -> Availability:
    return Availability.model_construct(**{f: getattr(doctor, f) for f in AVAILABILITY_FIELDS})


def locate_practice(
    session: Session,
    geocoding: GeocodingService,
    territory: Territory,
    location: LocationIn,
    field: str,
    territories: TerritoryMap | None = None,
) -> PracticeLocation:
    """A practice is placed by the geocoder and must lie in the doctor's CPTS."""
    try:
        residency = check_residency(
            session,
            geocoding,
            location.postcode,
            location.city,
            location.address,
            writing=True,
            territories=territories,
        )
    except Unprocessable as exc:
        for error in exc.fields:
            error.field = f"{field}.{error.field}"
        raise
    commune = residency.placement.commune
    if residency.territory is None or residency.territory.id != territory.id:
        elsewhere = f"à la {residency.territory.name}" if residency.territory else "à aucune CPTS de ce service"
        message = f"{commune.name} ({commune.insee}) appartient {elsewhere}, pas à la {territory.name}."
        raise Unprocessable(message, fields=[FieldError(field=f"{field}.city", message=message)])
    point = residency.placement.location
    return PracticeLocation(
        address=location.address,
        postcode=location.postcode,
        insee_code=commune.insee,
        city=commune.name,
        latitude=point.latitude if point else None,
        longitude=point.longitude if point else None,
        precision=point.precision if point else None,
        phone=location.phone,
        wheelchair_accessible=location.wheelchair_accessible,
    )


def territory_for(session: Session, principal: Principal, slug: str) -> Territory:
    territory = session.scalars(select(Territory).where(Territory.slug == slug)).one_or_none()
    if territory is None:
        raise Unprocessable(f"Aucune CPTS « {slug} ».", fields=[FieldError(field="cpts", message="CPTS inconnue.")])
    if not may_act_in(principal, territory.id):
        raise Forbidden("Vous n'êtes pas coordinateur de cette CPTS.")
    return territory


def create_doctor(session: Session, geocoding: GeocodingService, principal: Principal, data: DoctorCreate) -> Doctor:
    territory = territory_for(session, principal, data.cpts)
    if session.scalars(select(Doctor.id).where(Doctor.rpps == data.rpps)).first() is not None:
        raise Conflict(f"Un médecin avec le RPPS {data.rpps} est déjà inscrit.")
    doctor = Doctor(
        territory=territory,
        rpps=data.rpps,
        civility=data.civility,
        family_name=data.family_name,
        given_name=data.given_name,
        profession=data.profession,
        specialty=data.specialty,
        email=str(data.email),
        phone=data.phone,
        locations=[
            locate_practice(session, geocoding, territory, loc, f"locations.{i}")
            for i, loc in enumerate(data.locations)
        ],
        confirmed_at=utcnow(),
        **data.availability.model_dump(),
    )
    session.add(doctor)
    session.flush()  # the id, for the trail; a rival with the same RPPS is a 409 (core/constraints.py)
    record(session, principal, "doctor.create", "doctor", doctor.id, territory.id)
    return doctor


def list_doctors(
    session: Session, principal: Principal, filters: repository.DoctorFilters, page: int, per_page: int
) -> tuple[list[Doctor], int]:
    """One page of the doctors the caller may see, and how many match."""
    return repository.list_page(session, principal, filters, page, per_page)


def doctor_of_link(session: Session, doctor_id: int, rpps: str) -> Doctor | None:
    """The doctor a signed confirmation link names: still the same RPPS, still active."""
    doctor = repository.get_unscoped(session, doctor_id)
    if doctor is None or doctor.rpps != rpps or not doctor.active:
        return None
    return doctor


def active_practice(session: Session, doctor_id: int, location_id: int) -> tuple[Doctor, PracticeLocation] | None:
    """An active doctor at one of its practices, whatever CPTS (what the SAS may read)."""
    doctor = active_doctor(session, doctor_id)
    if doctor is None:
        return None
    location = repository.location_of(session, doctor.id, location_id)
    return (doctor, location) if location is not None else None


def active_doctor(session: Session, doctor_id: int) -> Doctor | None:
    """An active doctor whatever CPTS (the SAS reads the practitioners of its feed): a doctor
    only, never another profession (app.snp.rules.sas_serves)."""
    doctor = repository.get_unscoped(session, doctor_id)
    return doctor if doctor is not None and doctor.active and sas_serves(doctor.profession) else None


def display_names(session: Session, principal: Principal, doctor_ids: set[int]) -> dict[int, str]:
    """The names ("Dr Given Family") of the doctors among these the caller may see."""
    return {
        i: f"Dr {given} {family}" for i, (given, family) in repository.names(session, principal, doctor_ids).items()
    }


def publishers(session: Session, principal: Principal, territory_id: int | None) -> list[repository.DoctorName]:
    """The active doctors a caller may publish slots for (of one CPTS if given), by name."""
    return repository.active_names(session, principal, territory_id)


def get_doctor(session: Session, principal: Principal, doctor_id: int) -> Doctor:
    doctor = repository.get_visible(session, principal, doctor_id)
    if doctor is None:
        raise NotFound("Médecin introuvable.")
    return doctor


def update_doctor(
    session: Session, geocoding: GeocodingService, principal: Principal, doctor_id: int, data: DoctorUpdate
) -> Doctor:
    doctor = get_doctor(session, principal, doctor_id)
    if data.psc_sign_in_allowed is not None and not may(principal, Action.MANAGE_DOCTORS):
        raise Forbidden("Seule la coordination autorise la création du compte d'un médecin par Pro Santé Connect.")
    if (
        data.profession is not None
        and data.profession != doctor.profession
        and not may(principal, Action.MANAGE_DOCTORS)
    ):
        raise Forbidden("Seule la coordination change la profession d'un professionnel.")
    changes = data.model_dump(exclude_unset=True, exclude={"locations", "availability", "profession", "specialty"})
    _set_profession(session, doctor, data)
    for name, value in changes.items():
        if value is None and name != "phone":
            continue
        setattr(doctor, name, str(value) if name == "email" else value)
    if data.locations is not None:
        doctor.locations = [
            locate_practice(session, geocoding, doctor.territory, loc, f"locations.{i}")
            for i, loc in enumerate(data.locations)
        ]
    if data.availability is not None:
        _set_availability(doctor, data.availability)
    doctor.updated_at = utcnow()
    record(session, principal, "doctor.update", "doctor", doctor.id, doctor.territory_id)
    session.flush()  # new practice locations get their ids, for the answer
    return doctor


def _set_profession(session: Session, doctor: Doctor, data: DoctorUpdate) -> None:
    """The profession and the specialty, checked together: a specialty is a doctor's only. A
    change of profession re-decides which of the practitioner's slots the SAS may see."""
    profession = data.profession or doctor.profession
    specialty = data.specialty or (doctor.specialty if profession == doctor.profession else None)
    try:
        doctor.specialty = professions.stored_specialty(profession, specialty, GENERAL_PRACTICE)
    except ValueError as exc:
        raise Unprocessable(str(exc), fields=[FieldError(field="specialty", message=str(exc))]) from None
    if profession != doctor.profession:
        doctor.profession = profession
        session.flush()
        resync_sas_visibility(session, doctor.id, profession)


def confirm_availability(
    session: Session,
    principal: Principal | None,
    doctor: Doctor,
    availability: Availability | None,
    *,
    via_link_from: str | None = None,
) -> Doctor:
    """The doctor (or the coordinator who phoned it) says what it offers now; `None` keeps
    it as it is. Either way the entry is fresh for six more months."""
    if availability is not None:
        _set_availability(doctor, availability)
    else:
        doctor.confirmed_at = utcnow()
    doctor.updated_at = utcnow()
    record(
        session,
        principal,
        "doctor.confirm",
        "doctor",
        doctor.id,
        doctor.territory_id,
        actor=f"lien de confirmation ({doctor.rpps})",
        client_address=via_link_from,
    )
    return doctor


def _set_availability(doctor: Doctor, availability: Availability) -> None:
    for name, value in availability.model_dump().items():
        setattr(doctor, name, value)
    doctor.confirmed_at = utcnow()


def set_active(session: Session, principal: Principal, doctor_id: int, active: bool) -> Doctor:
    ensure(principal, Action.MANAGE_DOCTORS, "Seul un coordinateur peut désactiver un médecin.")
    doctor = get_doctor(session, principal, doctor_id)
    doctor.active = active
    doctor.updated_at = utcnow()
    record(
        session,
        principal,
        "doctor.reactivate" if active else "doctor.deactivate",
        "doctor",
        doctor.id,
        doctor.territory_id,
    )
    return doctor


def take_place(session: Session, principal: Principal, doctor_id: int) -> bool:
    """A patient was matched to this doctor: one place fewer. False when none was left."""
    doctor = get_doctor(session, principal, doctor_id)
    taken = repository.take_place(session, doctor.id)
    if taken:
        record(session, principal, "doctor.take_place", "doctor", doctor.id, doctor.territory_id)
    return taken

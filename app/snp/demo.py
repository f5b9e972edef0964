"""Demo unscheduled care: slots for the next 14 days for most demo doctors, a centre, the
guide's example practitioner (Dr Pierre Foret, RPPS 10002909371) and a SAS regulator."""

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.accounts.principal import operator
from app.core.database import utcnow
from app.doctors import service as doctors
from app.doctors.models import Doctor
from app.doctors.schemas import Availability, DoctorCreate, LocationIn
from app.fhir import profiles as p
from app.geocoding.service import GeocodingService
from app.snp import service
from app.snp.models import Centre, RegulatorIdentifier, Slot, SlotKind
from app.snp.rules import PARIS
from app.snp.schemas import CentreCreate, PatternCreate

GUIDE_EXAMPLE_RPPS = "10002909371"  # "810002909371" in the SAS guide's example query
GUIDE_EXAMPLE_REGULATOR = "3456780581/11242343"
DEMO_REGULATOR_EMAIL = "regulation@sas62.example.fr"


def _guide_example_doctor(session: Session, geocoding: GeocodingService) -> None:
    if session.scalars(select(Doctor.id).where(Doctor.rpps == GUIDE_EXAMPLE_RPPS)).first():
        return
    doctors.create_doctor(
        session,
        geocoding,
        operator(),
        DoctorCreate(
            cpts="grand-arras",
            rpps=GUIDE_EXAMPLE_RPPS,
            civility="DR",
            family_name="Foret",
            given_name="Pierre",
            email="pierre.foret@medecins-demo.example.fr",
            phone="0321000000",
            locations=[
                LocationIn(address="25 rue de la Mounestie", postcode="62000", city="Arras", phone="0321000001")
            ],
            availability=Availability(accepting_new_patients=False),
        ),
    )


def load_demo_slots(session: Session, geocoding: GeocodingService) -> int:
    """Returns how many slots were added (none for a doctor that already has future slots)."""
    _guide_example_doctor(session, geocoding)
    rng = random.Random(2026)
    today = utcnow().astimezone(PARIS).date()
    added = 0
    for doctor in session.scalars(select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.id)):
        example = doctor.rpps == GUIDE_EXAMPLE_RPPS
        if not example and rng.random() < 0.2:
            continue  # not every doctor takes part in unscheduled care
        if session.scalars(
            select(Slot.id).where(Slot.doctor_id == doctor.id, Slot.start_at > utcnow()).limit(1)
        ).first():
            continue
        weekdays = [1, 2, 3, 4, 5, 6] if example else sorted(rng.sample([1, 2, 3, 4, 5], 2))
        hour = 16 if example else rng.choice([8, 12, 17])
        visibility = rng.choice([["SNP", "CPTS"], ["SNP", "CPTS"], ["PUBLIC", "CPTS"], ["CPTS"]])
        data = PatternCreate(
            doctor_id=doctor.id,
            kind=(SlotKind.HOME_VISIT if doctor.home_visits and rng.random() < 0.3 else SlotKind.SURGERY).value,
            visibility=["PUBLIC", "CPTS"] if example else visibility,
            weekdays=weekdays,
            start_time=f"{hour:02d}:00",
            end_time=f"{hour + 2:02d}:00",
            slot_minutes=20,
            first_date=today,
            last_date=today + timedelta(days=13),
        )
        added += service.create_pattern(session, operator(), data).slots_created
        session.commit()
    return added + _demo_centre(session, geocoding, today)


def _demo_centre(session: Session, geocoding: GeocodingService, today) -> int:
    if session.scalars(select(Centre.id).limit(1)).first():
        return 0
    centre = service.create_centre(
        session,
        geocoding,
        operator(),
        CentreCreate(
            cpts="grand-arras",
            name="Centre de soins non programmés d'Arras",
            address="2 place de la Gare",
            postcode="62000",
            city="Arras",
            phone="0321500000",
        ),
    )
    session.flush()
    created = service.create_pattern(
        session,
        operator(),
        PatternCreate(
            centre_id=centre.id,
            visibility=["CPTS", "SNP"],
            weekdays=[6],
            start_time="09:00",
            end_time="12:00",
            slot_minutes=15,
            first_date=today,
            last_date=today + timedelta(days=13),
        ),
    ).slots_created
    session.commit()
    return created


def load_demo_regulator(session: Session) -> None:
    """The demo regulator carries the national identifier of the guide's example."""
    user = session.scalars(
        select(User).where(User.email == DEMO_REGULATOR_EMAIL, User.role == Role.REGULATOR.value)
    ).first()
    if user is None:
        return
    known = session.scalars(select(RegulatorIdentifier).where(RegulatorIdentifier.user_id == user.id)).first()
    if known is None:
        session.add(
            RegulatorIdentifier(user_id=user.id, system=p.NATIONAL_PS, value=GUIDE_EXAMPLE_REGULATOR, kind="IDNPS")
        )
        session.commit()

"""Fictional volunteer doctors and one account per role for the demo deployment."""

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from app.accounts.models import Membership, Role, User
from app.accounts.principal import operator
from app.accounts.security import hash_password
from app.core.database import utcnow
from app.doctors import service as doctors
from app.doctors.models import Doctor
from app.doctors.schemas import Availability, DoctorCreate, LocationIn
from app.geocoding.service import GeocodingService
from app.requests.models import Source
from app.territories.communes import CommuneIndex
from app.territories.models import Territory

FAMILY_NAMES = [
    "Lefebvre",
    "Durand",
    "Moreau",
    "Lambert",
    "Fontaine",
    "Carpentier",
    "Dupuis",
    "Leroy",
    "Vasseur",
    "Dumont",
    "Delattre",
    "Caron",
    "Marchand",
    "Lemaire",
    "Roussel",
    "Bertin",
    "Giraud",
    "Fabre",
    "Roux",
    "Blanc",
    "Arnaud",
    "Mercier",
    "Barbier",
    "Chevalier",
    "Garnier",
    "Faure",
    "Rey",
    "Olivier",
    "Benali",
    "Nguyen",
    "Haddad",
    "Martinez",
    "Perrin",
    "Colin",
    "Masson",
    "Renard",
    "Aubert",
    "Brun",
    "Laurent",
    "Picard",
]
GIVEN_NAMES = [
    "Claire",
    "Thomas",
    "Sophie",
    "Nicolas",
    "Julie",
    "Mathieu",
    "Camille",
    "Antoine",
    "Émilie",
    "Pierre",
    "Léa",
    "Hugo",
    "Inès",
    "Karim",
    "Lucie",
    "Yann",
    "Amina",
    "Paul",
    "Hélène",
    "Rémi",
]
STREETS = [
    "rue de la République",
    "place de la Mairie",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "rue Pasteur",
    "boulevard Gambetta",
    "rue du Général de Gaulle",
    "chemin des Écoles",
]

DEMO_PASSWORD = "demo-orientation-2026"
DEMO_ACCOUNTS = [
    # (e-mail, name, role, CPTS slugs)
    ("admin@orientation.example.fr", "Administration", Role.ADMIN, []),
    ("coordination@cpts-grand-arras.example.fr", "Coordination Grand Arras", Role.COORDINATOR, ["grand-arras"]),
    (
        "coordination@cpts-provence-sante.example.fr",
        "Coordination Provence Santé",
        Role.COORDINATOR,
        ["provence-sante"],
    ),
    ("pharmacie.centrale@grand-arras.example.fr", "Pharmacie centrale d'Arras", Role.PROFESSIONAL, ["grand-arras"]),
    ("docteur@grand-arras.example.fr", "Médecin de démonstration", Role.DOCTOR, ["grand-arras"]),
    ("regulation@sas62.example.fr", "Régulation SAS 62", Role.REGULATOR, ["grand-arras"]),
]


# (css, ame, css_or_ame) as stored, the priority answer drawn as before (the same draws): its
# "yes" is CSS, AME, or an older single answer (CSS or AME, unknown which), by the patient's rank.
DEMO_CSS_AME = {
    "yes": [("yes", "no", "yes"), ("no", "yes", "yes"), ("unknown", "unknown", "yes")],
    "no": [("no", "no", "no")] * 3,
    "unknown": [("unknown", "unknown", "unknown")] * 3,
}


def demo_rpps(n: int) -> str:
    body = f"1{n:09d}"  # fictional: real RPPS numbers start with 10 and are far larger
    return body + luhn.calc_check_digit(body)


def load_demo_doctors(session: Session, geocoding: GeocodingService, communes: CommuneIndex) -> int:
    """About 40 doctors over both demo CPTS; the same every run. Returns how many were added."""
    rng = random.Random(2026)
    added = 0
    territories = session.scalars(select(Territory).order_by(Territory.slug)).all()
    by_slug = {t.slug: t for t in territories}
    plan = [("grand-arras", 24), ("provence-sante", 16)]
    number = 0
    for slug, count in plan:
        territory = by_slug[slug]
        codes = territory.insee_codes
        for i in range(count):
            number += 1
            rpps = demo_rpps(number)
            if session.scalars(select(Doctor.id).where(Doctor.rpps == rpps)).first():
                continue
            commune = communes.get(codes[i % len(codes)])
            if commune is None:  # not in the bundled table: no demo doctor there
                continue
            family, given = FAMILY_NAMES[(number - 1) % len(FAMILY_NAMES)], GIVEN_NAMES[number % len(GIVEN_NAMES)]
            capacity = rng.choice([0, 0, 2, 5, 8, 10, 15, 20])
            home = rng.random() < 0.35
            data = DoctorCreate(
                cpts=slug,
                rpps=rpps,
                civility="DR",
                family_name=family,
                given_name=given,
                email=f"{_ascii(given)}.{_ascii(family)}@medecins-demo.example.fr",
                phone=f"0{3 if slug == 'grand-arras' else 4}{rng.randrange(10**7, 10**8)}",
                locations=[
                    LocationIn(
                        address=f"{rng.randrange(1, 80)} {rng.choice(STREETS)}",
                        postcode=commune.postcodes[0],
                        city=commune.name,
                        wheelchair_accessible=rng.random() < 0.6,
                    )
                ],
                availability=Availability(
                    accepting_new_patients=capacity > 0,
                    capacity_remaining=capacity,
                    priority_only=rng.random() < 0.25,
                    home_visits=home,
                    home_visit_radius_km=rng.choice([5, 10, 15]) if home else None,
                    languages=rng.choice([["fr"], ["fr"], ["fr", "en"], ["fr", "ar"], ["fr", "es"]]),
                    max_distance_km=rng.choice([None, None, 10, 20]),
                ),
            )
            doctor = doctors.create_doctor(session, geocoding, operator(), data)
            if number % 6 == 0:  # some have not confirmed for eight months: stale
                doctor.confirmed_at = utcnow() - timedelta(days=240)
            session.commit()  # a builder run as a script: one doctor at a time, as an import would
            added += 1
    return added


def load_demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    """One account per role, password reset to the demo one each run. (e-mail, role, CPTS)."""
    territories = {t.slug: t for t in session.scalars(select(Territory))}
    demo_doctor = session.scalars(select(Doctor).where(Doctor.rpps == demo_rpps(1))).one()
    accounts = []
    for email, name, role, slugs in DEMO_ACCOUNTS:
        user = session.scalars(select(User).where(User.email == email)).one_or_none()
        if user is None:
            user = User(email=email, display_name=name, role=role.value)
            user.memberships = [Membership(territory_id=territories[s].id) for s in slugs]
            session.add(user)
        user.password_hash = hash_password(DEMO_PASSWORD)
        user.active, user.failed_logins, user.locked_until = True, 0, None
        if role is Role.DOCTOR:
            user.doctor_id = demo_doctor.id
        if role is Role.PROFESSIONAL:  # the pharmacy is credited with the requests it submits
            user.organisation_id = _demo_organisation(session, territories[slugs[0]], name).id
        accounts.append((email, role.value, ", ".join(slugs) or "toutes"))
    session.commit()
    return accounts


def _demo_organisation(session: Session, territory: Territory, name: str) -> Source:
    tag = f"{_ascii(name).replace(chr(39), '-')}-demo"
    source = session.scalars(select(Source).where(Source.tag == tag)).one_or_none()
    if source is None:
        source = Source(territory_id=territory.id, tag=tag, name=name, kind="pharmacy")
        session.add(source)
        session.flush()
    return source


def _ascii(text: str) -> str:
    from app.territories.communes import normalize_name

    return normalize_name(text).replace(" ", "-")


def load_demo_requests(session: Session, geocoding: GeocodingService, communes: CommuneIndex) -> int:
    """A few dozen fictional requests in various states, the same every run (added once)."""
    from datetime import date

    from app.requests.models import PatientRequest
    from app.requests.schemas import RequestCreate, TransitionIn
    from app.requests.service import submit_request, transition

    if session.scalars(select(PatientRequest.id).limit(1)).first() is not None:
        return 0
    rng = random.Random(70)
    territories = {t.slug: t for t in session.scalars(select(Territory))}
    pharmacy = Source(
        territory_id=territories["grand-arras"].id,
        tag="pharmacie-de-la-gare-demo",
        name="Pharmacie de la Gare, Arras",
        kind="pharmacy",
    )
    session.add(pharmacy)
    session.commit()
    coordinator = operator()
    added = 0
    plan = [("grand-arras", 26), ("provence-sante", 10)]
    for slug, count in plan:
        codes = territories[slug].insee_codes + (["62568", "62611"] if slug == "grand-arras" else [])  # some outside
        for i in range(count):
            commune = communes.get(codes[(i * 7) % len(codes)])
            if commune is None:  # not in the bundled table: no demo patient there
                continue
            age = rng.choice([24, 35, 41, 52, 67, 71, 78, 84])
            data = RequestCreate(
                family_name=rng.choice(FAMILY_NAMES),
                given_name=rng.choice(GIVEN_NAMES),
                birth_date=date(date.today().year - age, rng.randrange(1, 13), rng.randrange(1, 28)),
                phone=f"0612{rng.randrange(10**5, 10**6)}",
                email=None,
                address=f"{rng.randrange(1, 90)} {rng.choice(STREETS)}",
                postcode=commune.postcodes[0],
                city=commune.name,
                ald=rng.random() < 0.3,
                **dict(
                    zip(
                        ("css", "ame", "css_or_ame"),
                        DEMO_CSS_AME[rng.choice(["yes", "no", "unknown", "no"])][i % 3],
                        strict=True,
                    )
                ),
                needs_home_visits=age > 80 and rng.random() < 0.5,
                no_doctor_reason=rng.choice(["doctor_left", "moved_in", "never_had", "other"]),
                preferred_channel=rng.choice(["sms", "sms", "phone"]),
                consent=True,
                cpts=slug,
                source=pharmacy.tag if slug == "grand-arras" and i % 3 == 0 else None,
            )
            request, _, _ = submit_request(session, geocoding, None, data, "http://127.0.0.1:8000")
            added += 1
            if request.status != "received":
                session.commit()
                continue
            fate = i % 5
            if fate in (1, 2):
                transition(session, coordinator, request.id, TransitionIn(to="proposed"))
            if fate == 2:
                doctor = session.scalars(
                    select(Doctor).where(
                        Doctor.territory_id == request.territory_id,
                        Doctor.capacity_remaining > 1,
                        Doctor.accepting_new_patients.is_(True),
                    )
                ).first()
                if doctor:
                    transition(session, coordinator, request.id, TransitionIn(to="matched", doctor_id=doctor.id))
            if fate == 3:
                transition(session, coordinator, request.id, TransitionIn(to="closed", reason="found_alone"))
            session.commit()  # a builder run as a script: one request at a time, as the form would
    return added

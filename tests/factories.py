"""Factories: the bodies and objects tests make (a territory, a doctor, a patient's request,
a slot, an account), each in one place. Functions, not fixtures: tests call them with what
they need, and the fixtures of conftest.py call them too."""

import hashlib
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.demo_people import demo_rpps

PASSWORD = "correct horse battery"


# ---- Territories ------------------------------------------------------------------------------


def territory_body(**changes) -> dict:
    """A new CPTS (Artois Lys: Béthune by its INSEE code, Essars by postcode and name)."""
    body = {
        "slug": "artois-lys",
        "name": "CPTS Artois Lys",
        "finess": "620000026",
        "phone": "03.21.11.22.33",
        "email": "contact@cpts-artois-lys.example.fr",
        "communes": ["62119", {"postcode": "62400", "name": "Essars"}],
    }
    return {**body, **changes}


def make_territory(client, headers, **changes):
    """POST /api/v1/territories (an admin's headers); the response."""
    return client.post("/api/v1/territories", json=territory_body(**changes), headers=headers)


# ---- Accounts ---------------------------------------------------------------------------------


def account_headers(
    db: Session, role: str, n: int, cpts: list[str] | tuple[str, ...] = (), doctor_rpps: str | None = None
) -> dict[str, str]:
    """Authorization headers of a new account `{role}{n}@test.example.fr` with a personal API token."""
    from app.accounts.models import Role
    from app.accounts.principal import Principal
    from app.accounts.schemas import UserCreate
    from app.accounts.service import create_token, create_user

    user = create_user(
        db,
        UserCreate(
            email=f"{role}{n}@test.example.fr",
            display_name=f"{role} {n}",
            role=Role(role),
            password=PASSWORD,
            cpts=list(cpts),
            doctor_rpps=doctor_rpps,
        ),
        None,
    )
    principal = Principal(user.id, user.email, Role(role), user.territory_ids, user.doctor_id, None)
    secret, _ = create_token(db, principal, "tests")
    db.commit()  # services leave committing to the caller (a request's unit of work)
    return {"Authorization": f"Bearer {secret}"}


# ---- Doctors ----------------------------------------------------------------------------------


def doctor_body(n: int, city: str = "Arras", postcode: str = "62000", cpts: str = "grand-arras", **availability):
    """A volunteer doctor numbered n (its RPPS is demo_rpps(500 + n): none of the demo's)."""
    return {
        "cpts": cpts,
        "rpps": demo_rpps(500 + n),
        "family_name": f"Docteur{n}",
        "given_name": "Test",
        "email": f"doc{n}@example.fr",
        "locations": [{"address": "1 place de la Mairie", "postcode": postcode, "city": city}],
        "availability": {"accepting_new_patients": True, "capacity_remaining": 5, **availability},
    }


def add_doctor(client, headers, n, city, postcode, **availability) -> int:
    """Registers doctor n through the API, accepting 5 new patients unless told otherwise; its id."""
    response = client.post("/api/v1/doctors", json=doctor_body(n, city, postcode, **availability), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


DOCTORS_CSV_HEADER = (
    "RPPS;Civilité;Nom;Prénom;Spécialité;E-mail;Téléphone;Adresse;Code postal;Commune;Accès PMR;"
    "Accepte nouveaux patients;Places;Jusqu'au;Langues;Visites à domicile;Rayon visites (km)"
)


def doctor_csv_row(
    n: int, *, city="Arras", postcode="62000", places="5", rpps=None, email=None, address="1 place des Héros"
):
    """Line n of a doctors' CSV import (French headers, `;`): doctor demo_rpps(n) in Arras, 5 places."""
    return ";".join(
        [
            rpps or demo_rpps(n),
            "Mme",
            f"Nom{n}",
            "Émilie",
            "Médecine générale",
            email or f"m{n}@example.fr",
            "03 21 00 00 00",
            address,
            postcode,
            city,
            "oui",
            "oui",
            places,
            "31/12/2027",
            "fr, en",
            "non",
            "",
        ]
    )


# ---- Patients' requests -----------------------------------------------------------------------


def born(years_ago: int) -> str:
    """A birth date giving this age today (a few days past the birthday)."""
    return (date.today() - timedelta(days=round(365.25 * years_ago) + 5)).isoformat()


def answers(**changes) -> dict:
    """The questionnaire's answers (API), for a 45-year-old of Tilloy-lès-Mofflaines (Grand Arras)."""
    body = {
        "family_name": "Dupré",
        "given_name": "Anne",
        "birth_date": born(45),
        "phone": "06 12 34 56 78",
        "email": "anne@example.fr",
        "address": "5 rue de Cambrai",
        "postcode": "62217",
        "city": "Tilloy-lès-Mofflaines",
        "ald": False,
        "css_or_ame": "no",
        "no_doctor_reason": "doctor_left",
        "preferred_channel": "sms",
        "consent": True,
        "cpts": "grand-arras",
    }
    return {**body, **_own_phone(changes), **changes}


def _own_phone(changes: dict) -> dict:
    """Another person of the family (another given name) gets their own mobile number: the
    same phone and birth date under other names is a possible duplicate (app.requests.service),
    which a test of two patients does not mean."""
    if "phone" in changes or changes.get("given_name", "Anne") == "Anne":
        return {}
    names = f"{changes.get('family_name', '')}|{changes['given_name']}"
    number = int(hashlib.sha256(names.encode()).hexdigest(), 16) % 10**6
    return {"phone": f"0613{number:06d}"}


def submit(client, headers=None, **changes):
    """POST /api/v1/requests with `answers(**changes)`; the response."""
    return client.post("/api/v1/requests", json=answers(**changes), headers=headers or {})


def form(**changes) -> dict:
    """The same patient, as the page at / posts it (a browser without JavaScript)."""
    values = {
        "submitted_by": "patient",
        "family_name": "Dupré",
        "given_name": "Anne",
        "birth_date": born(45),
        "phone": "06 12 34 56 78",
        "email": "",
        "preferred_channel": "sms",
        "address": "5 rue de Cambrai",
        "postcode": "62217",
        "city": "Tilloy-lès-Mofflaines",
        "ald": "no",
        "css": "unknown",
        "ame": "unknown",
        "needs_home_visits": "no",
        "no_doctor_reason": "moved_in",
        "languages": "",
        "comment": "",
        "consent": "yes",
        "cpts": "grand-arras",
        "source": "",
        "website": "",
    }
    return {**values, **_own_phone(changes), **changes}


# ---- Unscheduled-care slots -------------------------------------------------------------------


def make_slot(
    db: Session, doctor_id: int, start: datetime, minutes: int = 20, visibility: int = 1 | 8, status: str = "free"
) -> int:
    """A slot at the doctor's first practice, written directly (no pattern); its id.
    `visibility`: app.snp.models.Visibility's bits (PUBLIC 1, PRO 2, SNP 4: seen by the SAS; CPTS 8)."""
    from app.doctors.models import Doctor
    from app.snp.models import Slot

    doctor = db.get(Doctor, doctor_id)
    slot = Slot(
        territory_id=doctor.territory_id,
        doctor_id=doctor.id,
        location_id=doctor.locations[0].id,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        kind="AMB",
        visibility=visibility,
        sas_visible=bool(visibility & 7),
        appointment_type="ROUTINE",
        status=status,
    )
    db.add(slot)
    db.commit()
    return slot.id


# ---- The national directory ---------------------------------------------------------------------


def directory_practitioner(
    db: Session,
    cpts: str,
    n: int,
    *,
    family_name: str | None = None,
    given_name: str = "Claire",
    practices: list[dict] | None = None,
    rpps: str | None = None,
):
    """A GP of the national directory in this CPTS (as the importer would leave it), RPPS
    demo_rpps(5000 + n), practising at Arras by default; `practices`: DirectoryPractice fields."""
    from sqlalchemy import select

    from app.directory.models import DirectoryPractice, DirectoryPractitioner
    from app.territories.models import Territory

    territory = db.scalars(select(Territory).where(Territory.slug == cpts)).one()
    entry = DirectoryPractitioner(
        territory_id=territory.id,
        rpps=rpps or demo_rpps(5000 + n),
        civility="Docteur",
        family_name=family_name or f"Annuaire{n}",
        given_name=given_name,
        know_how_code="SM54",
        know_how_label="Médecine Générale",
        fingerprint=hashlib.sha256(str(n).encode()).hexdigest(),
        practices=[
            DirectoryPractice(
                **{
                    "mode": "L",
                    "address": "5 rue Gambetta",
                    "postcode": "62000",
                    "insee_code": "62041",
                    "city": "Arras",
                    "latitude": 50.2910,
                    "longitude": 2.7775,
                    **p,
                }
            )
            for p in (practices or [{}])
        ],
    )
    db.add(entry)
    db.flush()
    return entry

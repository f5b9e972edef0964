"""The secretariat and the CPAM (issue 19): what each may do and see, and the centre as the
search's fallback, served to the SAS under the doctor who works its slot."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.demo_people import demo_rpps
from app.requests.models import PatientRequest, Source
from tests.fhir_conformance import problems

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def settings(settings):
    """/fhir without a client certificate, as tests/test_fhir_slots.py opens it on purpose."""
    return settings.model_copy(update={"fhir_client_auth": "none"})


def _patient(given_name: str, postcode: str = "62000", city: str = "Arras") -> dict:
    return {
        "family_name": "Assuré",
        "given_name": given_name,
        "birth_date": "1952-03-04",
        "phone": "0612345601",
        "postcode": postcode,
        "city": city,
        "no_doctor_reason": "doctor_left",
        "consent": True,
        "submitted_by": "cpam",
        "patient_consent_attested": True,
    }


def test_a_cpam_account_submits_for_its_insured_credited_to_its_cpam_source_and_sees_only_its_own(
    client, db, make_account, coordinator, professional
):
    cpam = make_account("cpam", ["grand-arras"])
    sent = client.post("/api/v1/requests", json=_patient("Odile"), headers=cpam)
    assert sent.status_code == 201, sent.text
    mine = sent.json()["id"]
    theirs = client.post(
        "/api/v1/requests", json=_patient("Paul") | {"submitted_by": "professional"}, headers=professional
    ).json()["id"]
    other_cpts = client.post(
        "/api/v1/requests", json=_patient("Rose", "13790", "Rousset") | {"submitted_by": "patient"}
    ).json()["id"]

    # Credited to the CPAM source of its CPTS, which the indicators count as a source of its own.
    db.rollback()
    request = db.get(PatientRequest, mine)
    assert request.submitted_by == "cpam"
    assert (request.source.kind, request.source.territory.slug) == ("cpam", "grand-arras")
    figures = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator).json()
    assert figures["by_source"][request.source.name] == 1  # the professional's: "formulaire direct"

    # Its own only: the professional's request and another CPTS's are unknown to it.
    assert [r["id"] for r in client.get("/api/v1/requests", headers=cpam).json()["items"]] == [mine]
    assert client.get(f"/api/v1/requests/{mine}", headers=cpam).status_code == 200
    assert client.get(f"/api/v1/requests/{theirs}", headers=cpam).status_code == 404
    assert client.get(f"/api/v1/requests/{other_cpts}", headers=cpam).status_code == 404
    listed = client.get("/espace/mes-demandes", headers=cpam)
    assert listed.status_code == 200 and "Odile" in listed.text and "Paul" not in listed.text
    assert client.get(f"/espace/demandes/{mine}", headers=cpam).status_code == 403  # the queue is the coordination's


def test_a_coordinator_creates_secretariat_and_cpam_accounts_the_cpam_one_credited_to_its_cpam_source(
    client, db, coordinator
):
    page = client.get("/espace/comptes", headers=coordinator)
    assert '<option value="secretariat">secrétariat</option>' in page.text
    assert '<option value="cpam">CPAM (Assurance Maladie)</option>' in page.text
    for email, role in (("accueil@example.fr", "secretariat"), ("cpam62@example.fr", "cpam")):
        invited = client.post(
            "/espace/comptes",
            data={"email": email, "display_name": "Compte", "role": role},
            headers=coordinator,
            follow_redirects=False,
        )
        assert invited.status_code == 303
    db.rollback()
    secretariat = db.scalars(select(User).where(User.email == "accueil@example.fr")).one()
    cpam = db.scalars(select(User).where(User.email == "cpam62@example.fr")).one()
    assert secretariat.role == "secretariat" and secretariat.organisation_id is None
    source = db.get(Source, cpam.organisation_id)
    assert (source.kind, source.territory.slug) == ("cpam", "grand-arras")
    # A town hall is no CPAM: refused on the field.
    hall = client.post("/api/v1/sources", json={"cpts": "grand-arras", "name": "Mairie"}, headers=coordinator).json()
    refused = client.post(
        f"/espace/comptes/{cpam.id}",
        data={"display_name": "Compte", "role": "cpam", "organisation": hall["tag"]},
        headers=coordinator,
        follow_redirects=True,
    )
    assert "un compte CPAM est rattaché à une source de type CPAM" in refused.text


def _doctor(client, coordinator, n: int, name: str, accepting: bool = True, cpts: str = "grand-arras") -> dict:
    city, postcode = ("Arras", "62000") if cpts == "grand-arras" else ("Rousset", "13790")
    body = {
        "cpts": cpts,
        "rpps": demo_rpps(600 + n),
        "family_name": name,
        "given_name": "Claire",
        "email": f"{name.lower()}@example.fr",
        "locations": [{"address": "3 rue Pasteur", "postcode": postcode, "city": city}],
        "availability": {"accepting_new_patients": accepting, "capacity_remaining": 10 if accepting else 0},
    }
    response = client.post("/api/v1/doctors", json=body, headers=coordinator)
    assert response.status_code == 201, response.text
    return response.json()


def _slot(client, headers, start: datetime, **owner) -> int:
    body = {"start": start.isoformat(), "end": (start + timedelta(minutes=20)).isoformat(), **owner}
    response = client.post("/api/v1/snp/slots", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


PATIENT = {"family_name": "Durand", "given_name": "Marc", "phone": "0611223344", "reason": "Entorse"}


def test_the_secretariat_books_doctors_first_then_the_centre_worked_by_a_named_replacement(
    client, db, make_account, coordinator, other_coordinator, monkeypatch
):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    monkeypatch.setattr("app.fhir.endpoints.utcnow", lambda: now)  # the same signed link on each read
    secretariat = make_account("secretariat", ["grand-arras"])
    volunteer = _doctor(client, coordinator, 1, "Volontaire")
    replacement = _doctor(client, coordinator, 2, "Remplacante", accepting=False)  # no new patients
    centre = client.post(
        "/api/v1/snp/centres",
        json={
            "cpts": "grand-arras",
            "name": "CSNP d'Arras",
            "address": "1 place de la Gare",
            "postcode": "62000",
            "city": "Arras",
        },
        headers=coordinator,
    ).json()
    doctors_slot = _slot(client, coordinator, now + timedelta(hours=6), doctor_id=volunteer["id"])
    centre_slot = _slot(
        client,
        coordinator,
        now + timedelta(hours=3),  # sooner than the doctor's: still offered after it
        centre_id=centre["id"],
        worked_by_doctor_id=replacement["id"],
        visibility=["SNP", "CPTS"],
    )

    search = client.get("/api/v1/snp/search?cpts=grand-arras", headers=secretariat).json()
    assert [i["slot"]["id"] for i in search["items"]] == [doctors_slot]
    assert search["centre_fallback"] is False and search["notice"] is None
    booked = client.post(f"/api/v1/snp/slots/{doctors_slot}/bookings", json=PATIENT, headers=secretariat)
    assert booked.status_code == 201

    search = client.get("/api/v1/snp/search?cpts=grand-arras", headers=secretariat).json()
    assert [i["slot"]["id"] for i in search["items"]] == [centre_slot]
    assert search["centre_fallback"] is True
    assert search["notice"] == "Aucun créneau de médecin dans les 48 h : créneaux du centre"
    assert search["items"][0]["slot"]["worked_by_name"] == "Dr Claire Remplacante"
    page = client.get("/espace/soins-non-programmes/recherche?code_postal=", headers=secretariat)
    assert "Aucun créneau de médecin dans les 48 h : créneaux du centre" in page.text

    # The SAS is served the centre's slot under the replacement, at the centre.
    start, end = quote((now - timedelta(hours=1)).isoformat()), quote((now + timedelta(days=1)).isoformat())
    bundle = client.get(
        f"/fhir/Slot?start=ge{start}&start=le{end}&status=free"
        f"&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|8{replacement['rpps']}"
        "&_include=Slot:schedule&_include:iterate=Schedule:actor&_include=Slot:service-type-reference"
        "&_include:iterate=HealthcareService:organization"
    ).json()
    assert problems(bundle) == []
    by_type = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    assert by_type["Slot"]["id"] == str(centre_slot)
    assert by_type["Schedule"]["id"] == f"{replacement['id']}-c{centre['id']}"
    assert by_type["Practitioner"]["id"] == f"doc-{replacement['id']}"
    assert by_type["PractitionerRole"]["contained"][0]["address"]["line"] == ["1 place de la Gare"]
    for resource in by_type.values():
        read = client.get(f"/fhir/{resource['resourceType']}/{resource['id']}")
        assert read.status_code == 200 and read.json() == resource
    assert client.get(f"/fhir/Schedule/{volunteer['id']}-c{centre['id']}").status_code == 404

    # The secretariat cancels in its CPTS; it knows nothing of another CPTS's slots.
    booking = booked.json()["id"]
    assert client.post(f"/api/v1/snp/bookings/{booking}/cancel", headers=secretariat).status_code == 200
    elsewhere = _doctor(client, other_coordinator, 3, "Ailleurs", cpts="provence-sante")
    far = _slot(client, other_coordinator, now + timedelta(hours=5), doctor_id=elsewhere["id"])
    assert client.post(f"/api/v1/snp/slots/{far}/bookings", json=PATIENT, headers=secretariat).status_code == 404
    assert client.get(f"/espace/soins-non-programmes/creneaux/{far}/reserver", headers=secretariat).status_code == 404


def test_the_secretariat_finds_nothing_of_medecin_traitant_requests(client, make_account, professional):
    secretariat = make_account("secretariat", ["grand-arras"])
    request_id = client.post(
        "/api/v1/requests", json=_patient("Paul") | {"submitted_by": "professional"}, headers=professional
    ).json()["id"]
    for path in ("/api/v1/requests", f"/api/v1/requests/{request_id}"):
        assert client.get(path, headers=secretariat).status_code == 404
    for path in ("/espace/demandes", f"/espace/demandes/{request_id}", "/espace/mes-demandes/nouvelle"):
        assert client.get(path, headers=secretariat).status_code == 404
    assert client.post("/api/v1/requests", json=_patient("Léa"), headers=secretariat).status_code == 404
    # Its workspace: the board and the search, nothing else.
    home = client.get("/espace/soins-non-programmes", headers=secretariat)
    assert home.status_code == 200
    assert 'href="/espace/soins-non-programmes/recherche"' in home.text and "/espace/demandes" not in home.text
    assert "Ajouter un créneau" not in home.text

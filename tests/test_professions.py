"""Professionals beyond doctors (Provence Santé §4.3.2): a nurse, a midwife, a physiotherapist…
registers with its RPPS profession, publishes unscheduled-care slots the CPTS's callers find, but
is never served to the SAS (INT_R04 serves médecins) nor proposed as médecin traitant."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app.core import migrations
from app.demo_people import demo_rpps
from app.doctors.models import Doctor
from app.snp.models import Slot
from tests.factories import add_doctor, submit
from tests.helpers.workspace import COORDINATOR, sign_in
from tests.test_fhir_slots import _window_query

pytestmark = pytest.mark.usefixtures("demo_territories")

PHYSIO_RPPS = demo_rpps(701)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_client_auth": "none"})


def _practitioner(client, headers, rpps: str, profession: str | None, **changes) -> dict:
    body = {
        "cpts": "grand-arras",
        "rpps": rpps,
        "civility": "MME",
        "family_name": "Kiné",
        "given_name": "Léa",
        "email": f"{rpps}@example.fr",
        "locations": [{"address": "3 rue Pasteur", "postcode": "62000", "city": "Arras"}],
        "availability": {"accepting_new_patients": True, "capacity_remaining": 5},
        **changes,
    }
    if profession is not None:
        body["profession"] = profession
    return client.post("/api/v1/doctors", json=body, headers=headers)


def _physio(client, headers) -> int:
    response = _practitioner(client, headers, PHYSIO_RPPS, "70")
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _publish(client, headers, practitioner_id: int, start: datetime, visibility: list[str]) -> dict:
    response = client.post(
        "/api/v1/snp/slots",
        json={
            "doctor_id": practitioner_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=20)).isoformat(),
            "visibility": visibility,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _soon() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)


def _feed_slot_ids(client, start: datetime, rpps: list[str]) -> set[int]:
    response = client.get(_window_query(start - timedelta(hours=1), 2, rpps))
    assert response.status_code == 200, response.text
    entries = response.json().get("entry", [])
    return {int(e["resource"]["id"]) for e in entries if e["resource"]["resourceType"] == "Slot"}


# ---- The record ---------------------------------------------------------------------------------


def test_a_physiotherapist_registers_with_its_profession_and_no_medical_specialty(client, coordinator):
    physio = _practitioner(client, coordinator, PHYSIO_RPPS, "70").json()
    assert (physio["profession"], physio["profession_label"]) == ("70", "Masseur-kinésithérapeute")
    assert (physio["specialty"], physio["specialty_label"]) == (None, None)
    doctor = client.get(f"/api/v1/doctors/{add_doctor(client, coordinator, 1, 'Arras', '62000')}", headers=coordinator)
    assert (doctor.json()["profession"], doctor.json()["specialty"]) == ("10", "SM54")  # older clients: a doctor

    nurse_with_specialty = _practitioner(client, coordinator, demo_rpps(702), "60", specialty="SM54")
    assert nurse_with_specialty.status_code == 422
    assert "ne s'applique qu'à un médecin" in nurse_with_specialty.text and "specialty" in nurse_with_specialty.text
    unknown = _practitioner(client, coordinator, demo_rpps(703), "99")
    assert unknown.status_code == 422 and "Profession inconnue" in unknown.text

    listed = client.get("/api/v1/doctors", params={"profession": "70"}, headers=coordinator).json()
    assert [d["rpps"] for d in listed["items"]] == [PHYSIO_RPPS]
    refused = client.patch(f"/api/v1/doctors/{physio['id']}", json={"specialty": "SM40"}, headers=coordinator)
    assert refused.status_code == 422 and "ne s'applique qu'à un médecin" in refused.text


def test_the_doctors_form_registers_a_midwife_and_its_page_says_so(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    form = client.get("/espace/medecins/nouveau").text
    assert '<select id="profession" name="profession"' in form and ">Sage-femme</option>" in form
    csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    created = client.post(
        "/espace/medecins/nouveau",
        data={
            "csrf_token": csrf,
            "rpps": demo_rpps(704),
            "civility": "MME",
            "family_name": "Sagefemme",
            "given_name": "Inès",
            "profession": "50",
            "specialty": "SM54",  # the select always sends one: not kept for a midwife
            "email": "ines@example.fr",
            "address": "3 rue Pasteur",
            "postcode": "62000",
            "city": "Arras",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    db.rollback()
    midwife = db.scalars(select(Doctor).where(Doctor.rpps == demo_rpps(704))).one()
    assert (midwife.profession, midwife.specialty) == ("50", "")
    page = client.get(created.headers["location"]).text
    assert '<dd id="profession-label">Sage-femme</dd>' in page and "Dr Inès" not in page


# ---- Unscheduled care: the CPTS's callers, never the SAS -----------------------------------------


def test_the_physiotherapists_slot_is_found_by_profession_and_never_served_to_the_sas(client, coordinator, db):
    physio = _physio(client, coordinator)
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    start = _soon()
    # Published open to the SAS's types (SNP, PUBLIC): kept for the CPTS all the same.
    slot = _publish(client, coordinator, physio, start, ["PUBLIC", "SNP", "CPTS"])
    doctors_slot = _publish(client, coordinator, doctor, start + timedelta(minutes=30), ["SNP", "CPTS"])
    assert (slot["profession"], slot["profession_label"], slot["doctor_name"]) == (
        "70",
        "Masseur-kinésithérapeute",
        "Léa Kiné",
    )
    db.rollback()
    assert db.get(Slot, slot["id"]).sas_visible is False

    search = {"cpts": "grand-arras", "postcode": "62000", "city": "Arras"}
    physios = client.get("/api/v1/snp/search", params=search | {"profession": "70"}, headers=coordinator).json()
    assert [i["slot"]["id"] for i in physios["items"]] == [slot["id"]]
    doctors = client.get("/api/v1/snp/search", params=search | {"profession": "10"}, headers=coordinator).json()
    assert [i["slot"]["id"] for i in doctors["items"]] == [doctors_slot["id"]]
    everyone = client.get("/api/v1/snp/search", params=search, headers=coordinator).json()
    assert [i["slot"]["profession"] for i in everyone["items"]] == ["70", "10"]
    wrong = client.get("/api/v1/snp/search", params=search | {"profession": "33"}, headers=coordinator)
    assert wrong.status_code == 422 and "profession" in wrong.text

    rpps = [PHYSIO_RPPS, demo_rpps(501)]
    assert _feed_slot_ids(client, start, rpps) == {doctors_slot["id"]}
    # Someone marks it SAS-visible in the database: the feed still serves doctors only.
    db.execute(update(Slot).where(Slot.id == slot["id"]).values(sas_visible=True))
    db.commit()
    assert _feed_slot_ids(client, start, rpps) == {doctors_slot["id"]}
    assert client.get(f"/fhir/Slot/{slot['id']}").status_code == 404
    assert client.get(f"/fhir/Practitioner/doc-{physio}").status_code == 404
    assert client.get(f"/fhir/Slot/{doctors_slot['id']}").status_code == 200


def test_a_doctor_who_becomes_a_nurse_leaves_the_feed_and_comes_back_as_a_doctor(client, coordinator, db):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    start = _soon()
    slot = _publish(client, coordinator, doctor, start, ["SNP", "CPTS"])
    rpps = [demo_rpps(501)]
    assert _feed_slot_ids(client, start, rpps) == {slot["id"]}  # the fragment is now cached
    nurse = client.patch(f"/api/v1/doctors/{doctor}", json={"profession": "60"}, headers=coordinator)
    assert nurse.status_code == 200, nurse.text
    assert (nurse.json()["profession"], nurse.json()["specialty"]) == ("60", None)
    assert _feed_slot_ids(client, start, rpps) == set()
    db.rollback()
    assert db.get(Slot, slot["id"]).sas_visible is False
    back = client.patch(f"/api/v1/doctors/{doctor}", json={"profession": "10"}, headers=coordinator).json()
    assert back["specialty"] == "SM54"
    assert _feed_slot_ids(client, start, rpps) == {slot["id"]}


def test_the_search_page_filters_by_profession_in_french(client, db, demo_slots, coordinator):
    physio = _physio(client, coordinator)
    slot = _publish(client, coordinator, physio, _soon(), ["CPTS"])
    sign_in(client, COORDINATOR)
    params = {"code_postal": "62000", "commune": "Arras", "heures": "48"}
    page = client.get("/espace/soins-non-programmes/recherche", params=params | {"profession": "70"}).text
    assert '<select id="profession" name="profession">' in page
    assert '<option value="70" selected>Masseur-kinésithérapeute</option>' in page
    assert f"/creneaux/{slot['id']}/reserver" in page and "<td>Masseur-kinésithérapeute</td>" in page
    doctors = client.get("/espace/soins-non-programmes/recherche", params=params | {"profession": "10"}).text
    assert f"/creneaux/{slot['id']}/reserver" not in doctors


# ---- Médecin traitant: doctors only ----------------------------------------------------------------


def test_the_ranking_of_a_request_never_proposes_a_non_doctor(client, coordinator):
    physio = _physio(client, coordinator)  # accepting 5 new patients, on paper
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client).json()["id"]
    suggestions = client.get(f"/api/v1/requests/{request_id}/suggestions", headers=coordinator).json()
    assert [d["doctor_id"] for d in suggestions["doctors"]] == [doctor]
    accepting = client.get("/api/v1/doctors", params={"accepting": True}, headers=coordinator).json()
    assert physio not in [d["id"] for d in accepting["items"]]


# ---- The migration ----------------------------------------------------------------------------------


def test_the_migration_makes_every_doctor_already_registered_a_doctor(client, coordinator, db, database_url, engine):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    nurse = _practitioner(client, coordinator, demo_rpps(705), "60").json()["id"]
    db.commit()
    migrations.downgrade("0026", database_url=database_url)  # the revision before 0027
    try:
        with engine.begin() as connection:
            assert "profession" not in set(connection.execute(text("SELECT * FROM doctors")).keys())
            # Without the column a nurse would read as a doctor: it was deactivated.
            rows = dict(connection.execute(text("SELECT id, active FROM doctors")).all())
            assert (bool(rows[doctor]), bool(rows[nurse])) == (True, False)
    finally:
        migrations.upgrade("head", database_url=database_url)
    db.expire_all()
    assert {d.id: d.profession for d in db.scalars(select(Doctor))} == {doctor: "10", nurse: "10"}
    assert db.get(Doctor, doctor).specialty == "SM54"


# ---- The CSV import ------------------------------------------------------------------------------


def test_the_import_reads_the_profession_and_a_file_without_the_column_keeps_it(client, coordinator):
    from tests.factories import DOCTORS_CSV_HEADER, doctor_csv_row
    from tests.test_doctor_import import upload

    nurse = doctor_csv_row(1).split(";")
    nurse[4] = ""  # no specialty: a nurse has none
    with_column = "\n".join(
        [DOCTORS_CSV_HEADER + ";Profession", ";".join(nurse) + ";Infirmier", doctor_csv_row(2) + ";"]
    )
    report = upload(client, coordinator, with_column).json()
    assert (report["created"], report["invalid"]) == (2, 0), report
    listed = {d["rpps"]: d for d in client.get("/api/v1/doctors", headers=coordinator).json()["items"]}
    assert (listed[demo_rpps(1)]["profession"], listed[demo_rpps(1)]["specialty"]) == ("60", None)
    assert (listed[demo_rpps(2)]["profession"], listed[demo_rpps(2)]["specialty"]) == ("10", "SM54")

    # The older file, without the column: the nurse stays a nurse.
    without = "\n".join([DOCTORS_CSV_HEADER, ";".join(nurse)])
    assert upload(client, coordinator, without).json()["invalid"] == 0
    nurse_now = client.get("/api/v1/doctors", params={"profession": "60"}, headers=coordinator).json()["items"]
    assert [d["rpps"] for d in nurse_now] == [demo_rpps(1)]

    given_a_specialty = "\n".join([DOCTORS_CSV_HEADER + ";Profession", doctor_csv_row(3) + ";60"])
    refused = upload(client, coordinator, given_a_specialty).json()
    assert refused["written"] is False
    assert "ne s'applique qu'à un médecin" in refused["problems"][0]["reason"]


def test_a_regulator_cannot_book_a_non_doctors_slot_from_the_sas(client, db, demo_slots, coordinator):
    from app.snp.models import Booking
    from tests.helpers.workspace import REGULATOR
    from tests.test_snp_pages import _book_form, _sas_link

    physio = _physio(client, coordinator)
    slot = _publish(client, coordinator, physio, _soon(), ["SNP", "CPTS"])
    sign_in(client, REGULATOR)
    link = _sas_link(client, slot["id"])
    assert client.get(link).status_code == 404  # not SAS-visible: the regulation does not see it
    # Marked SAS-visible behind the service's back: the page opens, the booking is still refused.
    db.execute(update(Slot).where(Slot.id == slot["id"]).values(sas_visible=True))
    db.commit()
    assert _book_form(client, link).status_code == 404
    db.rollback()
    assert db.scalars(select(Booking).where(Booking.slot_id == slot["id"])).all() == []


def test_a_patient_booked_with_a_physiotherapist_is_not_told_it_is_a_doctor(client, coordinator, db):
    """The booking's SMS and the CPTS's activity report name a non-doctor without "Dr"."""
    from app.notifications.models import OutboxMessage

    physio = _physio(client, coordinator)
    slot = _publish(client, coordinator, physio, _soon(), ["CPTS"])
    patient = {"family_name": "Martin", "given_name": "Lucie", "phone": "06 11 22 33 44", "reason": "Entorse"}
    booked = client.post(f"/api/v1/snp/slots/{slot['id']}/bookings", json=patient, headers=coordinator)
    assert booked.status_code == 201, booked.text
    db.rollback()
    sms = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "snp_booking")).one()
    assert "Léa Kiné" in sms.body and "Dr " not in sms.body
    board = client.get("/espace/soins-non-programmes", headers=coordinator)
    assert board.status_code == 200
    assert "Léa Kiné" in board.text and "Dr Léa Kiné" not in board.text

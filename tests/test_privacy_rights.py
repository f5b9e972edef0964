"""A person's rights (issue 13, item 2): the coordination finds every record of a person in its
CPTS, hands them over, corrects them, erases them now; the patient withdraws or erases from the
follow-up link. Every step is audited without personal data; the indicators keep their figures."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.notifications.models import OutboxMessage
from app.requests.models import PatientRequest, RequestEvent
from app.snp.models import Booking
from tests.factories import add_doctor, born, make_slot, submit
from tests.helpers.workspace import COORDINATOR, csrf_of, flash_of, sign_in

pytestmark = pytest.mark.usefixtures("demo_territories")

PHONE = "06 12 34 56 78"
E164 = "+33612345678"


@pytest.fixture
def person(client, db, coordinator):
    """Anne Dupré: a request (with a note and the list of doctors sent by SMS), then an
    unscheduled-care booking with the same phone; in Provence, somebody else with that phone."""
    doctor_id = add_doctor(client, coordinator, 1, "Arras", "62000", accepting_new_patients=True, capacity_remaining=5)
    request_id = submit(client, comment="Diabète, je cherche près de chez moi").json()["id"]
    client.post(f"/api/v1/requests/{request_id}/notes", json={"text": "Rappeler Anne lundi"}, headers=coordinator)
    sent = client.post(
        f"/api/v1/requests/{request_id}/send-list", json={"doctor_ids": [doctor_id]}, headers=coordinator
    )
    assert sent.status_code == 200, sent.text
    slot_id = make_slot(db, doctor_id, datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))
    booked = client.post(
        f"/api/v1/snp/slots/{slot_id}/bookings",
        json={"family_name": "Dupré", "given_name": "Anne", "phone": PHONE, "reason": "Fièvre"},
        headers=coordinator,
    )
    assert booked.status_code == 201, booked.text
    elsewhere = submit(
        client, family_name="Autre", given_name="Paul", phone=PHONE, postcode="13790", city="Rousset", cpts=None
    )
    assert elsewhere.status_code == 201, elsewhere.text
    return {"request": request_id, "booking": booked.json()["id"], "elsewhere": elsewhere.json()["id"]}


def test_a_coordinator_finds_every_record_of_a_person_by_phone_in_its_cpts_only(client, coordinator, person):
    found = client.post("/api/v1/privacy/search", json={"phone": PHONE}, headers=coordinator)

    assert found.status_code == 200, found.text
    body = found.json()
    assert [r["id"] for r in body["requests"]] == [person["request"]]  # not Provence's
    request = body["requests"][0]
    assert (request["family_name"], request["phone"], request["comment"]) == (
        "Dupré",
        E164,
        "Diabète, je cherche près de chez moi",
    )
    assert any(e["text"] == "Rappeler Anne lundi" for e in request["events"])
    assert "doctor_list" in [m["kind"] for m in request["messages"]]
    assert [b["id"] for b in body["bookings"]] == [person["booking"]]
    assert body["bookings"][0]["reason"] == "Fièvre"


def test_the_same_person_is_found_by_names_and_birth_date_whatever_the_case_and_accents(client, coordinator, person):
    query = {"family_name": "DUPRE", "given_name": "anne", "birth_date": born(45)}
    body = client.post("/api/v1/privacy/search", json=query, headers=coordinator).json()

    assert [r["id"] for r in body["requests"]] == [person["request"]]
    assert [b["id"] for b in body["bookings"]] == [person["booking"]]  # by the phone of the request


def test_another_cpts_coordinator_finds_nothing(client, other_coordinator, person):
    body = client.post("/api/v1/privacy/search", json={"phone": PHONE}, headers=other_coordinator).json()

    assert [r["id"] for r in body["requests"]] == [person["elsewhere"]]
    assert body["bookings"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"family_name": "Dupré"}, "given_name"),
        ({"family_name": "Dupré", "given_name": "Anne"}, "birth_date"),
    ],
)
def test_a_search_that_names_nobody_is_a_422_naming_the_field_in_french(client, coordinator, query, field):
    response = client.post("/api/v1/privacy/search", json=query, headers=coordinator)

    assert response.status_code == 422
    fields = {f["field"]: f["message"] for f in response.json()["fields"]}
    assert field in fields
    assert re.search(r"[éèà]|Champ|Indiquez|Numéro", response.json()["message"] + " ".join(fields.values()))


def test_the_rights_are_the_coordinations_only(client, professional, make_account):
    regulator = make_account("regulator", ["grand-arras"])
    for headers in (professional, regulator, {}):
        for path in ("search", "export", "erase"):
            response = client.post(f"/api/v1/privacy/{path}", json={"phone": PHONE}, headers=headers)
            assert response.status_code in (401, 403), (path, response.status_code)


def test_the_export_is_a_json_file_and_every_step_is_audited_without_personal_data(client, db, coordinator, person):
    before = db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    response = client.post("/api/v1/privacy/export", json={"phone": PHONE}, headers=coordinator)

    assert response.status_code == 200
    db.rollback()  # a new transaction: what the app committed since
    assert response.headers["content-disposition"].startswith('attachment; filename="donnees-personnelles-')
    assert json.loads(response.content)["requests"][0]["given_name"] == "Anne"
    events = db.scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
    assert {(e.action, e.object_type, e.object_id) for e in events} == {
        ("privacy.export", "person", "2"),
        ("privacy.export", "patient_request", str(person["request"])),
        ("privacy.export", "snp_booking", str(person["booking"])),
    }
    trail = json.dumps([[e.actor, e.action, e.object_type, e.object_id, e.client_address] for e in events])
    for personal in ("Dupré", "Anne", "0612", "+336", "anne@example.fr", born(45)):
        assert personal not in trail


def test_rectify_corrects_a_request_and_says_which_fields_not_how(client, db, coordinator, person):
    response = client.patch(
        f"/api/v1/privacy/requests/{person['request']}",
        json={"family_name": "Dupré-Martin", "phone": "06 98 76 54 32", "email": "anne.dm@example.fr"},
        headers=coordinator,
    )

    assert response.status_code == 200, response.text
    assert (response.json()["family_name"], response.json()["phone"]) == ("Dupré-Martin", "+33698765432")
    found = client.post(
        "/api/v1/privacy/search",
        json={"family_name": "dupre-martin", "given_name": "Anne", "birth_date": born(45)},
        headers=coordinator,
    ).json()
    assert [r["id"] for r in found["requests"]] == [person["request"]]  # the identity follows the names
    note = db.scalars(
        select(RequestEvent.text).where(RequestEvent.request_id == person["request"]).order_by(RequestEvent.id.desc())
    ).first()
    assert note == "Données rectifiées à la demande de la personne : nom, téléphone, e-mail."
    assert db.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "privacy.rectify", AuditEvent.object_id == str(person["request"])
        )
    )


def test_rectify_refuses_bad_values_and_other_cpts(client, coordinator, other_coordinator, person):
    url = f"/api/v1/privacy/requests/{person['request']}"
    bad = client.patch(url, json={"phone": "12 34"}, headers=coordinator)
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "phone"
    assert client.patch(url, json={"family_name": "X"}, headers=other_coordinator).status_code == 404


def test_erase_now_leaves_only_the_anonymous_facts_and_the_search_then_finds_nothing(client, db, coordinator, person):
    period = "from=2000-01-01"
    indicators_before = client.get(f"/api/v1/territories/grand-arras/indicators?{period}", headers=coordinator).json()

    erased = client.post("/api/v1/privacy/erase", json={"phone": PHONE}, headers=coordinator)

    assert erased.status_code == 200, erased.text
    assert (erased.json()["requests"], erased.json()["bookings"]) == (1, 1)
    again = client.post("/api/v1/privacy/search", json={"phone": PHONE}, headers=coordinator).json()
    assert (again["requests"], again["bookings"], again["messages"]) == ([], [], [])
    by_name = {"family_name": "Dupré", "given_name": "Anne", "birth_date": born(45)}
    assert client.post("/api/v1/privacy/search", json=by_name, headers=coordinator).json()["requests"] == []

    db.rollback()  # a new transaction: what the app committed since
    request = db.get(PatientRequest, person["request"])
    assert (request.given_name, request.phone, request.email, request.address, request.comment) == (
        "",
        "",
        None,
        None,
        None,
    )
    assert (request.status, request.close_reason, request.insee_code) == ("closed", "withdrew", "62817")
    assert request.birth_date.month == 1 and request.birth_date.day == 1 and request.birth_date.year % 5 == 0
    texts = db.scalars(select(RequestEvent.text).where(RequestEvent.request_id == request.id)).all()
    assert "Rappeler Anne lundi" not in texts
    messages = db.scalars(select(OutboxMessage).where(OutboxMessage.request_id == request.id)).all()
    assert messages and all(m.body == "" and m.recipient == "" and m.status == "failed" for m in messages)
    booking = db.get(Booking, person["booking"])
    assert (booking.given_name, booking.phone, booking.reason) == ("", "", "")
    # What the indicators count is still there: the same request, received in the period, its
    # priority groups, commune and source (erasing an open request closes it: "a renoncé").
    after = client.get(f"/api/v1/territories/grand-arras/indicators?{period}", headers=coordinator).json()
    for figure in ("received_by_group", "by_commune", "by_source"):
        assert after[figure] == indicators_before[figure], figure
    assert after["requests"]["received"] == indicators_before["requests"]["received"]
    # And the other CPTS's person with the same phone was not touched.
    assert db.get(PatientRequest, person["elsewhere"]).phone == E164


def test_the_workspace_finds_exports_and_erases_a_person(client, db, demo):
    sign_in(client, COORDINATOR)
    page = client.get("/espace/personnes")
    assert page.status_code == 200
    token = csrf_of(page.text)
    phone = db.scalars(select(PatientRequest.phone).where(PatientRequest.territory_id.is_not(None))).first()
    form = {"csrf_token": token, "phone": phone}

    found = client.post("/espace/personnes", data=form)
    assert found.status_code == 200
    assert 'id="person-requests"' in found.text

    printable = client.post("/espace/personnes/export", data={**form, "format": "html"})
    assert printable.status_code == 200 and "Copie remise au titre du droit d'accès" in printable.text
    file = client.post("/espace/personnes/export", data={**form, "format": "json"})
    assert file.headers["content-type"] == "application/json" and json.loads(file.content)["requests"]

    unconfirmed = client.post("/espace/personnes/effacer", data=form)
    assert unconfirmed.status_code == 422 and "Cochez la case" in unconfirmed.text

    done = client.post("/espace/personnes/effacer", data={**form, "confirm": "yes"})
    assert done.status_code == 200
    assert flash_of(done.text).startswith("Données effacées")
    again = client.post("/espace/personnes", data=form)
    assert "Aucune donnée personnelle trouvée" in again.text


def _follow_up_token(response) -> str:
    return response.json()["follow_up_url"].rsplit("/", 1)[1]


def test_the_patient_withdraws_the_request_after_a_confirmation(client, db):
    token = _follow_up_token(submit(client))

    confirm = client.post(f"/suivi/{token}/retrait")
    assert confirm.status_code == 200 and "ne vous cherchera plus de médecin traitant" in confirm.text
    assert "effacées au bout de 3 mois" in confirm.text  # the period configured for a withdrawn request
    assert db.scalars(select(PatientRequest.status)).one() == "received"  # nothing yet

    done = client.post(f"/suivi/{token}/retrait", data={"confirm": "yes"})
    assert "Votre demande est retirée." in done.text
    db.rollback()  # a new transaction: what the app committed since
    request = db.scalars(select(PatientRequest)).one()
    assert (request.status, request.close_reason) == ("closed", "withdrew")
    assert db.scalar(select(AuditEvent.actor).where(AuditEvent.action == "request.withdraw")) == "patient"


def test_the_patient_erases_their_data_and_the_link_stops_working(client, db):
    token = _follow_up_token(submit(client))

    confirm = client.post(f"/suivi/{token}/effacement")
    assert "seront effacés tout de suite et définitivement" in confirm.text
    done = client.post(f"/suivi/{token}/effacement", data={"confirm": "yes"})

    assert "Vos données sont effacées" in done.text
    assert client.get(f"/suivi/{token}").status_code == 404
    db.rollback()  # a new transaction: what the app committed since
    request = db.scalars(select(PatientRequest)).one()
    assert (request.given_name, request.phone, request.status) == ("", "", "closed")
    assert db.scalar(select(AuditEvent.actor).where(AuditEvent.action == "privacy.erase")) == "patient"


def test_an_unknown_follow_up_choice_or_link_is_a_404(client):
    token = _follow_up_token(submit(client))
    assert client.post(f"/suivi/{token}/autre", data={"confirm": "yes"}).status_code == 404
    assert client.post("/suivi/inconnu/effacement", data={"confirm": "yes"}).status_code == 404

"""Issue 12, "Patients first": landlines, the commune the patient chose, a receipt at
submission, the professional's organisation as the source, links from the serving address,
and French errors naming their field."""

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.identifiers import CONTACT_PHONE_EXPECTED
from app.core.settings import Settings
from app.main import create_app
from app.notifications.models import OutboxMessage
from app.requests.models import PatientRequest
from tests.factories import add_doctor, form, submit
from tests.helpers.workspace import COORDINATOR, PROFESSIONAL, csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("demo_territories")


def receipts(db) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "receipt").order_by(OutboxMessage.id)))


# ---- Phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("03 21 55 66 77", "+33321556677"),  # a landline
        ("03.21.55.66.77", "+33321556677"),
        ("+33 3 21 55 66 77", "+33321556677"),
        ("09 70 12 34 56", "+33970123456"),  # a box's line
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+32 470 12 34 56", "+32470123456"),  # a Belgian mobile, with its prefix
        ("+262 692 12 34 56", "+262692123456"),  # La Réunion
    ],
)
def test_any_number_a_person_can_be_called_on_is_accepted(client, db, typed, stored):
    response = submit(client, phone=typed, preferred_channel="phone", email=None)
    assert response.status_code == 201, response.text
    assert db.get(PatientRequest, response.json()["id"]).phone == stored


@pytest.mark.parametrize("typed", ["12", "08 00 12 34 56", "+32 2 555 12 12", "07 00 00 00 00"])
def test_numbers_nobody_answers_at_home_are_refused_naming_the_field(client, typed):
    # A toll-free line, a foreign landline (a foreign number must be a mobile), not a number.
    response = submit(client, phone=typed, preferred_channel="phone")
    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": "phone", "message": CONTACT_PHONE_EXPECTED}]


def test_an_sms_is_never_promised_to_a_landline(client, db):
    response = submit(client, phone="03 21 55 66 77", preferred_channel="sms")
    assert response.status_code == 422
    [error] = response.json()["fields"]
    assert error["field"] == "preferred_channel" and "fixe" in error["message"] and "SMS" in error["message"]
    assert receipts(db) == []


def test_without_a_choice_the_channel_is_what_the_number_allows(client, db):
    landline = submit(client, phone="03 21 55 66 77", preferred_channel=None, email=None)
    mobile = submit(client, family_name="Martin", preferred_channel=None)
    assert db.get(PatientRequest, landline.json()["id"]).preferred_channel == "phone"
    assert db.get(PatientRequest, mobile.json()["id"]).preferred_channel == "sms"


def test_the_coordinator_cannot_text_a_landline(client, coordinator):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    request_id = submit(client, phone="03 21 55 66 77", preferred_channel="phone", email=None).json()["id"]
    response = client.post(
        f"/api/v1/requests/{request_id}/send-list", json={"doctor_ids": [doctor], "channel": "sms"}, headers=coordinator
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "channel" and "fixe" in response.json()["message"]


# ---- The receipt ----------------------------------------------------------------------------


def test_a_mobile_gets_its_receipt_by_sms_with_the_follow_up_link(client, db):
    body = submit(client).json()
    [receipt] = receipts(db)
    assert (receipt.channel, receipt.recipient, receipt.request_id) == ("sms", "+33612345678", body["id"])
    assert body["follow_up_url"] in receipt.body and "CPTS du Grand Arras" in receipt.body
    # The link in the SMS is the patient's own: it opens the request.
    path = body["follow_up_url"].removeprefix("http://127.0.0.1:8000")
    assert "Anne" in client.get(path).text


def test_the_receipt_goes_by_e_mail_when_that_is_the_choice(client, db):
    body = submit(client, preferred_channel="email").json()
    [receipt] = receipts(db)
    assert (receipt.channel, receipt.recipient) == ("email", "anne@example.fr")
    assert receipt.subject == "Votre demande de médecin traitant est enregistrée"
    assert "Bonjour Anne" in receipt.body and body["follow_up_url"] in receipt.body


def test_a_resubmission_gets_a_receipt_with_its_new_link(client, db):
    first = submit(client).json()
    second = submit(client).json()
    assert second["duplicate"] is True
    assert [r.request_id for r in receipts(db)] == [first["id"], first["id"]]
    assert second["follow_up_url"] in receipts(db)[1].body


def test_outside_every_cpts_no_receipt_is_promised(client, db):
    response = submit(client, postcode="62217", city="Mercatel")
    assert response.json()["status"] == "out_of_territory"
    assert receipts(db) == []


def test_a_landline_without_e_mail_is_to_be_called_in_the_queue(client, db, demo):
    body = submit(client, phone="03 21 55 66 77", preferred_channel="phone", email=None).json()
    assert [r for r in receipts(db) if r.request_id == body["id"]] == []  # no SMS to a landline
    other = submit(client, family_name="Martin").json()  # a mobile: not on the list to call
    sign_in(client, COORDINATOR)
    queue = client.get("/espace/demandes").text
    row = re.search(rf'<tr>\s*<td><a href="/espace/demandes/{body["id"]}">.*?</tr>', queue, re.S).group(0)
    assert "à appeler" in row
    page = client.get(f"/espace/demandes/{body['id']}").text
    assert "à appeler" in page and "03 21 55 66 77" in page
    row = re.search(rf'<tr>\s*<td><a href="/espace/demandes/{other["id"]}">.*?</tr>', queue, re.S).group(0)
    assert "à appeler" not in row


# ---- The professional's organisation ----------------------------------------------------------


def test_a_pharmacists_submission_is_credited_to_the_pharmacy(client, db, demo, coordinator):
    sign_in(client, PROFESSIONAL)
    page = client.get("/espace/mes-demandes/nouvelle").text
    values = form(family_name="Lefebvre", given_name="Paul", phone="06 11 22 33 44") | {
        "csrf_token": csrf_of(page),
        "patient_consent_attested": "yes",
    }
    response = client.post("/espace/mes-demandes/nouvelle", data=values)
    assert "Le patient reçoit l&#39;accusé de réception et son lien de suivi par SMS." in response.text
    created = db.scalars(select(PatientRequest).where(PatientRequest.family_name == "Lefebvre")).one()
    assert created.source is not None and created.source.name == "Pharmacie centrale d'Arras"
    assert created.source.kind == "pharmacy" and created.submitted_by == "professional"
    [receipt] = [r for r in receipts(db) if r.request_id == created.id]
    assert receipt.channel == "sms" and receipt.recipient == "+33611223344"
    assert "Pharmacie centrale d'Arras" in receipt.body and "/suivi/" in receipt.body
    # Credited in the queue, on the request's page, in the indicators and in the export.
    sign_in(client, COORDINATOR)
    queue = client.get("/espace/demandes").text
    row = re.search(rf'<tr>\s*<td><a href="/espace/demandes/{created.id}">.*?</tr>', queue, re.S).group(0)
    assert "Pharmacie centrale d&#39;Arras" in row and "formulaire direct" not in row
    assert "Pharmacie centrale d&#39;Arras" in client.get(f"/espace/demandes/{created.id}").text
    indicators = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator).json()
    assert indicators["by_source"]["Pharmacie centrale d'Arras"] == 1
    export = client.get("/api/v1/requests/export?format=csv", headers=coordinator)
    rows = [r for r in csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";") if "Lefebvre" in r]
    assert len(rows) == 1 and "Pharmacie centrale d'Arras" in rows[0]


def test_an_organisation_is_a_source_of_the_accounts_cpts(client, admin_headers):
    from tests.factories import PASSWORD

    body = {
        "email": "officine@test.example.fr",
        "display_name": "Officine",
        "role": "professional",
        "password": PASSWORD,
        "cpts": ["grand-arras"],
        "organisation": "no-such-source",
    }
    response = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "organisation"


# ---- Links ------------------------------------------------------------------------------------


def test_unset_public_url_links_point_where_the_server_answers(settings, engine):
    app = create_app(settings.model_copy(update={"public_url": None}))
    with TestClient(app, base_url="http://127.0.0.1:8123") as client:
        # A forged Host header does not choose where a patient's link points.
        response = client.post("/api/v1/requests", json=_answers(), headers={"Host": "evil.example"})
        assert response.status_code == 201, response.text
        assert response.json()["follow_up_url"].startswith("http://127.0.0.1:8123/suivi/")
    app.state.engine.dispose()


def test_an_empty_public_url_is_unset():
    assert Settings(public_url="").public_url is None
    assert Settings(public_url="https://orientation.example.fr/").public_url == "https://orientation.example.fr"


def _answers() -> dict:
    from tests.factories import answers

    return answers()


# ---- The form's errors and the commune ----------------------------------------------------------


def test_every_error_names_its_field_and_what_is_expected_in_french(client):
    response = client.post("/", data=form(family_name="", birth_date="31/02/1950", phone="12"))
    assert response.status_code == 422
    text = response.text
    assert "Nom : à remplir." in text
    assert "Date de naissance : une date JJ/MM/AAAA est attendue." in text
    assert "Téléphone : un numéro français" in text
    assert "Input should" not in text and "Texte attendu." not in text


def test_a_birth_date_typed_the_french_way_is_understood(client, db):
    response = client.post("/", data=form(birth_date="02/03/1950"))
    assert response.status_code == 200, response.text
    assert str(db.scalars(select(PatientRequest.birth_date)).one()) == "1950-03-02"


def test_a_postcode_alone_lists_the_communes_with_none_chosen(client, db):
    response = client.post("/", data=form(city=""))
    assert response.status_code == 422
    select_html = re.search(r'<select id="city".*?</select>', response.text, re.S).group(0)
    assert select_html.count("<option") == 8  # "Choisissez votre commune", then the seven
    assert re.findall(r'<option value="([^"]*)" selected', select_html) == [""]
    assert 'aria-describedby="city-error"' in select_html
    # Sent again without choosing: still refused, nobody is placed in Achicourt.
    again = client.post("/", data=form(city=""))
    assert again.status_code == 422 and 'id="city-error"' in again.text
    assert db.scalars(select(PatientRequest.id)).first() is None
    chosen = client.post("/", data=form(city="Tilloy-lès-Mofflaines"))
    assert chosen.status_code == 200
    db.rollback()  # a new snapshot: the app committed since
    assert db.scalars(select(PatientRequest.commune_name)).one() == "Tilloy-lès-Mofflaines"


def test_each_yes_no_question_is_a_fieldset_with_its_legend(client):
    html = client.get("/?cpts=grand-arras").text
    for question in (
        "Pour qui est la demande ?",
        "Comment préférez-vous être contacté ?",
        "Êtes-vous en affection de longue durée (ALD) ?",
        "Avez-vous la Complémentaire santé solidaire (CSS) ?",
        "Avez-vous l'Aide médicale de l'État (AME) ?",
        "Pouvez-vous vous déplacer au cabinet ?",
    ):
        assert f"<legend>{question}</legend>" in html, question
    assert html.count('type="radio"') == 15  # CSS and AME: two questions of three answers


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({}, "Nous vous l'envoyons aussi par SMS au 06 12 34 56 78."),
        ({"preferred_channel": "email", "email": "anne@example.fr"}, "par e-mail à anne@example.fr."),
        ({"phone": "03 21 55 66 77", "preferred_channel": "phone"}, "La coordination vous appellera au 03 21 55 66 77"),
    ],
)
def test_the_page_after_submission_says_how_the_receipt_comes(client, changes, said):
    response = client.post("/", data=form(**changes))
    assert response.status_code == 200, response.text
    assert said in response.text

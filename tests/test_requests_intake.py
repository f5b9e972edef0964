"""The médecin-traitant questionnaire: residency, priority, duplicates, who submits."""

from datetime import date, timedelta

import pytest

from app.core.identifiers import CONTACT_PHONE_EXPECTED
from tests.factories import answers, born, submit  # noqa: F401 (answers: kept importable from here)

pytestmark = pytest.mark.usefixtures("demo_territories")


def test_resident_of_tilloy_is_accepted_into_grand_arras(client, coordinator):
    response = submit(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "received" and body["duplicate"] is False
    assert body["territory"] == {"slug": "grand-arras", "name": "CPTS du Grand Arras"}
    assert body["follow_up_url"].startswith("http://127.0.0.1:8000/suivi/")
    stored = client.get(f"/api/v1/requests/{body['id']}", headers=coordinator).json()
    assert stored["insee_code"] == "62817" and stored["phone"] == "+33612345678"
    assert stored["events"][0]["to_status"] == "received"


def test_resident_of_mercatel_is_out_of_territory_and_kept_for_the_statistics(client, make_account):
    response = submit(client, city="Mercatel")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "out_of_territory" and body["territory"] is None
    assert "Mercatel ne fait pas partie du territoire de la CPTS du Grand Arras" in body["message"]
    queue = client.get(
        "/api/v1/requests", params={"status": "out_of_territory"}, headers=make_account("coordinator", ["grand-arras"])
    )
    assert [r["id"] for r in queue.json()["items"]] == [body["id"]]


def test_resident_of_another_cpts_is_accepted_there(client):
    response = submit(client, postcode="13790", city="Rousset", address=None)
    body = response.json()
    assert body["status"] == "received" and body["territory"]["slug"] == "provence-sante"
    assert "dépend de cette CPTS" in body["message"]


def test_undecidable_commune_asks_which_one(client):
    response = submit(client, city=None)
    assert response.status_code == 422
    assert len(response.json()["candidates"]) == 7


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"consent": False}, "consent", "Votre accord est nécessaire pour traiter votre demande."),
        (
            {"phone": "03 21 00 00 00", "preferred_channel": "sms"},
            "preferred_channel",
            "Être contacté par SMS : ce numéro est un fixe, il ne reçoit pas de SMS. "
            "Choisissez « Appel téléphonique », ou « E-mail » avec votre adresse.",
        ),
        ({"phone": "12"}, "phone", CONTACT_PHONE_EXPECTED),
        ({"birth_date": (date.today() + timedelta(days=2)).isoformat()}, "birth_date", "Date de naissance invalide."),
        ({"email": "anne@"}, "email", "Adresse e-mail invalide."),
        ({"family_name": ""}, "family_name", "Trop court."),
        ({"postcode": "622"}, "postcode", "Code postal invalide : 5 chiffres attendus."),
    ],
)
def test_invalid_answers_get_a_french_message_on_the_field(client, changes, field, message):
    response = submit(client, **changes)
    assert response.status_code == 422
    assert {"field": field, "message": message} in response.json()["fields"]


def test_the_honeypot_field_refuses_robots_and_keeps_nothing(client, coordinator):
    assert submit(client, website="http://spam.example").status_code == 422
    assert client.get("/api/v1/requests", headers=coordinator).json()["total"] == 0


def test_same_person_gets_the_existing_request_back_with_new_contact_details(client, coordinator):
    first = submit(client).json()
    again = submit(client, family_name="DUPRE", given_name="anne ", phone="07 98 76 54 32")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["duplicate"] is True
    stored = client.get(f"/api/v1/requests/{first['id']}", headers=coordinator).json()
    assert stored["phone"] == "+33798765432"
    assert client.get("/api/v1/requests", headers=coordinator).json()["total"] == 1


def test_a_resident_of_marseille_1er_is_received_by_the_cpts_of_marseille_and_known_again(client, admin_headers):
    # The CPTS lists the city (13055); the person lives in its 1st arrondissement (13201).
    created = client.post(
        "/api/v1/territories",
        headers=admin_headers,
        json={
            "slug": "marseille-centre",
            "name": "CPTS Marseille Centre",
            "finess": "130000029",
            "phone": "04 91 00 00 00",
            "email": "contact@cpts-marseille.example.fr",
            "communes": ["13055"],
        },
    )
    assert created.status_code == 201, created.text
    first = submit(client, postcode="13001", city="Marseille", address=None)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "received" and first.json()["territory"]["slug"] == "marseille-centre"
    again = submit(client, postcode="13001", city="Marseille", address=None, phone="07 98 76 54 32")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["duplicate"] is True


def test_an_open_request_in_another_cpts_is_no_duplicate_here(client, coordinator):
    elsewhere = submit(client, postcode="13790", city="Rousset", address=None)
    assert elsewhere.json()["territory"]["slug"] == "provence-sante"
    here = submit(client)  # the same person and phone, now living in the Grand Arras
    assert here.status_code == 201
    assert here.json()["duplicate"] is False and here.json()["id"] != elsewhere.json()["id"]
    stored = client.get(f"/api/v1/requests/{here.json()['id']}", headers=coordinator).json()
    assert stored["duplicate_of_id"] is None


def test_a_closed_request_does_not_block_a_new_one(client, coordinator):
    first = submit(client).json()
    client.post(
        f"/api/v1/requests/{first['id']}/transitions", json={"to": "closed", "reason": "withdrew"}, headers=coordinator
    )
    assert submit(client).status_code == 201


def test_fragile_patient_submitted_later_comes_first_in_the_queue(client, coordinator):
    younger = submit(client, given_name="Léo", birth_date=born(40)).json()
    older = submit(client, given_name="Marie", birth_date=born(72), ald=True).json()
    queue = client.get("/api/v1/requests", headers=coordinator).json()["items"]
    assert [r["id"] for r in queue] == [older["id"], younger["id"]]
    assert queue[0]["priority"]["groups"] == ["ald", "age_70"]
    assert queue[0]["priority"]["explanation"] == "Prioritaire : ALD (affection de longue durée), 70 ans ou plus."
    assert queue[1]["priority"]["explanation"] == "Pas de critère de priorité : ordre d'arrivée."


def test_weights_are_set_per_cpts(client, coordinator, make_account):
    css = submit(client, given_name="Paul", css_or_ame="yes").json()
    ald = submit(client, given_name="Rose", ald=True).json()
    admin = make_account("admin")
    client.patch("/api/v1/territories/grand-arras", json={"weight_css": 3}, headers=admin)
    queue = client.get("/api/v1/requests", headers=coordinator).json()["items"]
    assert [r["id"] for r in queue] == [css["id"], ald["id"]]


def test_professional_submits_for_a_patient_with_consent_and_sees_only_its_requests(client, make_account):
    pharmacist = make_account("professional", ["grand-arras"])
    refused = submit(client, pharmacist, submitted_by="professional")
    assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "patient_consent_attested"
    mine = submit(client, pharmacist, submitted_by="professional", patient_consent_attested=True).json()
    submit(client, given_name="Autre")  # somebody else's
    listed = client.get("/api/v1/requests", headers=pharmacist).json()
    assert [r["id"] for r in listed["items"]] == [mine["id"]]
    assert client.get(f"/api/v1/requests/{mine['id']}", headers=pharmacist).json()["submitted_by"] == "professional"


def test_anonymous_cannot_claim_to_be_a_professional(client):
    assert submit(client, submitted_by="professional").status_code == 403


def test_follow_up_link_shows_the_status_with_the_given_name_only(client, coordinator):
    body = submit(client).json()
    path = body["follow_up_url"].removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200
    assert "Bonjour Anne" in page.text and "Dupré" not in page.text and "0612" not in page.text
    client.post(f"/api/v1/requests/{body['id']}/transitions", json={"to": "proposed"}, headers=coordinator)
    assert "liste de médecins" in client.get(path).text
    assert client.get("/suivi/not-a-token").status_code == 404


def test_every_read_of_a_request_is_in_the_audit_trail(client, coordinator):
    body = submit(client).json()
    client.get(f"/api/v1/requests/{body['id']}", headers=coordinator)
    trail = client.get("/api/v1/audit", params={"object_type": "patient_request"}, headers=coordinator).json()
    assert [e["action"] for e in trail] == ["read", "request.create"]
    assert trail[1]["actor"] == "patient" and "Dupré" not in str(trail)


def test_looking_at_the_queue_is_in_the_audit_trail_request_by_request(client, coordinator):
    ids = {submit(client, given_name=name).json()["id"] for name in ("Un", "Deux")}
    client.get("/api/v1/requests", headers=coordinator)
    trail = client.get("/api/v1/audit", params={"object_type": "patient_request"}, headers=coordinator).json()
    assert {int(e["object_id"]) for e in trail if e["action"] == "read"} == ids

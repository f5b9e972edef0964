"""The questionnaire page at `/`, posted as a browser without JavaScript would."""

import pytest

from tests.factories import form

pytestmark = pytest.mark.usefixtures("demo_territories")


def test_the_form_is_in_french_and_labelled(client):
    page = client.get("/", params={"cpts": "grand-arras"})
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text and "CPTS du Grand Arras" in page.text
    for field in ("family_name", "given_name", "birth_date", "phone", "postcode", "city", "consent"):
        assert f'<label for="{field}">' in page.text or f'for="{field}"' in page.text


def test_a_filled_form_is_accepted_with_a_follow_up_link(client):
    response = client.post("/", data=form())
    assert response.status_code == 200
    assert "Demande envoyée" in response.text and "/suivi/" in response.text


def test_errors_come_back_next_to_their_fields_and_the_answers_are_kept(client):
    response = client.post("/", data=form(phone="12", consent=""))
    assert response.status_code == 422
    assert 'id="phone-error"' in response.text and "Téléphone : un numéro français" in response.text
    assert 'id="consent-error"' in response.text
    assert 'value="Dupré"' in response.text  # nothing typed is lost


def test_an_undecidable_commune_becomes_a_list_to_pick_from(client):
    response = client.post("/", data=form(city=""))
    assert response.status_code == 422
    assert '<select id="city" name="city"' in response.text
    assert "Mercatel" in response.text and "Tilloy-lès-Mofflaines" in response.text
    picked = client.post("/", data=form(city="Mercatel"))
    assert picked.status_code == 200 and "Votre commune n'est pas couverte" in picked.text


def test_languages_can_be_written_in_french(client, make_account):
    client.post("/", data=form(languages="anglais, arabe"))
    coordinator = make_account("coordinator", ["grand-arras"])
    [item] = client.get("/api/v1/requests", headers=coordinator).json()["items"]
    assert client.get(f"/api/v1/requests/{item['id']}", headers=coordinator).json()["languages"] == ["ar", "en"]

"""GET /api/v1/residency: the rule that decides which CPTS, if any, a person belongs to."""

import pytest

pytestmark = pytest.mark.usefixtures("demo_territories")


def test_commune_outside_every_cpts_is_named_with_no_territory(client):
    response = client.get("/api/v1/residency", params={"postcode": "62217", "city": "Mercatel"})
    assert response.status_code == 200
    body = response.json()
    assert body["commune"] == {"insee": "62568", "name": "Mercatel"}
    assert body["territory"] is None
    assert body["precision"] == "municipality"
    assert "Mercatel" in body["message"] and "aucun territoire" in body["message"]


def test_commune_written_loosely_is_found_inside_grand_arras(client):
    response = client.get("/api/v1/residency", params={"postcode": "62217", "city": "tilloy les mofflaines"})
    assert response.status_code == 200
    body = response.json()
    assert body["commune"]["insee"] == "62817"
    assert body["territory"] == {"slug": "grand-arras", "name": "CPTS du Grand Arras"}
    assert body["geocoder"] == "offline"
    assert body["fallback_reason"] is None
    assert body["location"]["latitude"] == pytest.approx(50.27, abs=0.05)
    assert body["location"]["longitude"] == pytest.approx(2.82, abs=0.05)


def test_shared_postcode_resolves_to_provence_sante(client):
    response = client.get("/api/v1/residency", params={"postcode": "13790", "city": "Rousset"})
    assert response.status_code == 200
    body = response.json()
    assert body["commune"]["insee"] == "13087"
    assert body["territory"]["slug"] == "provence-sante"


def test_postcode_alone_covering_seven_communes_asks_which_one(client):
    response = client.get("/api/v1/residency", params={"postcode": "62217"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["fields"][0]["field"] == "city"
    assert {c["insee"] for c in body["candidates"]} == {"62004", "62013", "62099", "62568", "62611", "62817", "62869"}
    assert all(c["postcode"] == "62217" for c in body["candidates"])


def test_postcode_serving_one_commune_needs_no_city(client):
    response = client.get("/api/v1/residency", params={"postcode": "13480"})
    assert response.status_code == 200
    assert response.json()["commune"]["insee"] == "13019"  # Cabriès


def test_city_not_served_by_postcode_offers_the_postcodes_communes(client):
    response = client.get("/api/v1/residency", params={"postcode": "62217", "city": "Arras"})
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "city_not_in_postcode"
    assert len(body["candidates"]) == 7


@pytest.mark.parametrize("postcode", ["6221", "ABCDE", "622170", " "])
def test_malformed_postcode_is_a_field_error_in_french(client, postcode):
    response = client.get("/api/v1/residency", params={"postcode": postcode, "city": "Arras"})
    assert response.status_code == 422
    assert response.json()["fields"] == [
        {"field": "postcode", "message": "Code postal invalide : 5 chiffres attendus."}
    ]


def test_unknown_postcode_says_so(client):
    response = client.get("/api/v1/residency", params={"postcode": "00000", "city": "Nulle part"})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "postcode"
    assert "inconnu" in response.json()["message"]


def test_missing_postcode_is_a_field_error(client):
    response = client.get("/api/v1/residency", params={"city": "Arras"})
    assert response.status_code == 422
    assert response.json()["fields"][0] == {"field": "postcode", "message": "Ce champ est obligatoire."}


def test_arrondissement_belongs_to_a_cpts_listing_its_city(client, admin_headers):
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
    response = client.get("/api/v1/residency", params={"postcode": "13001", "city": "Marseille"})
    assert response.status_code == 200
    body = response.json()
    assert body["commune"]["insee"] == "13201"
    assert body["territory"]["slug"] == "marseille-centre"


def test_address_without_ban_configured_falls_back_to_commune_and_says_so(client):
    response = client.get(
        "/api/v1/residency",
        params={"postcode": "62000", "city": "Arras", "address": "1 place des Héros"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["territory"]["slug"] == "grand-arras"
    assert body["geocoder"] == "offline"
    assert body["fallback_reason"] == "ban_not_configured"
    assert body["precision"] == "municipality"

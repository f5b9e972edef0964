"""Residency with the BAN configured: a fake BAN on loopback answers like the real one."""

import pytest

from tests.fakes.ban import BanAddress

pytestmark = pytest.mark.usefixtures("demo_territories")

HEROS = BanAddress(
    match="place heros",
    label="1 Place des Héros 62000 Arras",
    housenumber="1",
    street="Place des Héros",
    postcode="62000",
    citycode="62041",
    city="Arras",
    lon=2.777846,
    lat=50.291002,
)
TILLOY = BanAddress(
    match="rue de cambrai",
    label="5 Rue de Cambrai 62217 Tilloy-lès-Mofflaines",
    housenumber="5",
    street="Rue de Cambrai",
    postcode="62217",
    citycode="62817",
    city="Tilloy-lès-Mofflaines",
    lon=2.81612,
    lat=50.27554,
)


def residency(client, **params):
    return client.get("/api/v1/residency", params=params)


def test_address_is_located_to_the_house_number(ban_client, fake_ban):
    fake_ban.addresses.append(HEROS)
    response = residency(ban_client, postcode="62000", city="Arras", address="1 place des Héros")
    assert response.status_code == 200
    body = response.json()
    assert body["geocoder"] == "ban"
    assert body["precision"] == "housenumber"
    assert body["location"] == {"latitude": 50.291002, "longitude": 2.777846}
    assert body["territory"]["slug"] == "grand-arras"
    assert fake_ban.requests[0]["postcode"] == "62000"


def test_ban_decides_the_commune_when_only_the_postcode_is_given(ban_client, fake_ban):
    fake_ban.addresses.append(TILLOY)
    response = residency(ban_client, postcode="62217", address="5 rue de Cambrai")
    assert response.status_code == 200
    assert response.json()["commune"]["insee"] == "62817"
    assert response.json()["territory"]["slug"] == "grand-arras"


def test_same_address_is_asked_once_then_served_from_the_cache(ban_client, fake_ban):
    fake_ban.addresses.append(HEROS)
    first = residency(ban_client, postcode="62000", city="Arras", address="1 place des Héros")
    # Written differently, same address once normalised.
    again = residency(ban_client, postcode="62000", city="ARRAS", address="1  Place des heros")
    assert first.json()["location"] == again.json()["location"]
    assert again.json()["geocoder"] == "ban"
    assert len(fake_ban.requests) == 1


def test_cache_does_not_store_the_address_text(ban_client, fake_ban, db):
    from app.geocoding.models import GeocodeCacheEntry

    fake_ban.addresses.append(HEROS)
    residency(ban_client, postcode="62000", city="Arras", address="1 place des Héros")
    entries = db.query(GeocodeCacheEntry).all()
    assert len(entries) == 1
    stored = " ".join(str(v) for v in vars(entries[0]).values())
    assert "Héros" not in stored and "heros" not in stored.lower()


def test_ban_down_falls_back_to_commune_after_one_retry(ban_client, fake_ban):
    fake_ban.fail(500)
    response = residency(ban_client, postcode="62000", city="Arras", address="1 place des Héros")
    assert response.status_code == 200
    body = response.json()
    assert body["geocoder"] == "offline"
    assert body["fallback_reason"] == "ban_unavailable"
    assert body["precision"] == "municipality"
    assert body["commune"]["insee"] == "62041"
    assert len(fake_ban.requests) == 2  # the first try and one retry


def test_one_failure_is_absorbed_by_the_retry(ban_client, fake_ban):
    fake_ban.addresses.append(HEROS)
    fake_ban.fail(503, times=1)
    response = residency(ban_client, postcode="62000", city="Arras", address="1 place des Héros")
    assert response.json()["geocoder"] == "ban"
    assert len(fake_ban.requests) == 2


def test_slow_ban_times_out_and_falls_back(ban_client, fake_ban):
    fake_ban.addresses.append(HEROS)
    fake_ban.delay = 1.5  # the app's BAN timeout is 0.5 s in these tests
    response = residency(ban_client, postcode="62000", city="Arras", address="1 place des Héros")
    assert response.status_code == 200
    assert response.json()["fallback_reason"] == "ban_unavailable"


def test_unknown_address_falls_back_to_commune(ban_client, fake_ban):
    response = residency(ban_client, postcode="62000", city="Arras", address="99 rue Inconnue")
    assert response.json()["fallback_reason"] == "address_not_found"
    assert response.json()["commune"]["insee"] == "62041"


def test_low_score_answer_is_not_trusted(ban_client, fake_ban):
    fake_ban.addresses.append(BanAddress(**{**HEROS.__dict__, "match": "rue vague", "score": 0.31}))
    response = residency(ban_client, postcode="62000", city="Arras", address="rue vague")
    assert response.json()["geocoder"] == "offline"
    assert response.json()["fallback_reason"] == "address_not_found"


def test_ban_answer_in_another_commune_than_declared_is_not_used(ban_client, fake_ban):
    # The person says Mercatel; the BAN places the street in Tilloy: we keep what they said.
    fake_ban.addresses.append(TILLOY)
    response = residency(ban_client, postcode="62217", city="Mercatel", address="5 rue de Cambrai")
    body = response.json()
    assert body["commune"]["insee"] == "62568"
    assert body["territory"] is None
    assert body["fallback_reason"] == "address_in_other_commune"


def test_postcode_alone_with_unknown_address_still_asks_which_commune(ban_client, fake_ban):
    response = residency(ban_client, postcode="62217", address="nowhere street")
    assert response.status_code == 422
    assert len(response.json()["candidates"]) == 7

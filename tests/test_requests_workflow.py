"""Orienting a request: the ranked doctors, the statuses, the notes."""

import pytest

from tests.factories import add_doctor, born, submit

pytestmark = pytest.mark.usefixtures("demo_territories")


def suggestions(client, headers, request_id):
    response = client.get(f"/api/v1/requests/{request_id}/suggestions", headers=headers)
    assert response.status_code == 200
    return response.json()


def test_doctors_are_ranked_by_distance_with_their_reasons(client, coordinator):
    far = add_doctor(client, coordinator, 1, "Vimy", "62580")
    near = add_doctor(client, coordinator, 2, "Tilloy-lès-Mofflaines", "62217", capacity_remaining=2)
    middle = add_doctor(client, coordinator, 3, "Arras", "62000")
    request_id = submit(client).json()["id"]  # lives in Tilloy
    body = suggestions(client, coordinator, request_id)
    assert [d["doctor_id"] for d in body["doctors"]] == [near, middle, far]
    assert body["considered"] == 3
    first = body["doctors"][0]
    assert first["distance_km"] < 1 and first["places_left"] == 2
    assert first["reasons"][0].startswith("à 0,") and "accepte de nouveaux patients (2 place(s))" in first["reasons"]


def test_at_equal_distance_the_doctor_with_more_places_comes_first(client, coordinator):
    few = add_doctor(client, coordinator, 1, "Arras", "62000", capacity_remaining=1)
    many = add_doctor(client, coordinator, 2, "Arras", "62000", capacity_remaining=9)
    request_id = submit(client, city="Arras", postcode="62000", address=None).json()["id"]
    assert [d["doctor_id"] for d in suggestions(client, coordinator, request_id)["doctors"]] == [many, few]


def test_constraints_of_the_doctors_are_respected(client, coordinator):
    priority_only = add_doctor(client, coordinator, 1, "Arras", "62000", priority_only=True)
    no_home_visits = add_doctor(client, coordinator, 2, "Arras", "62000")
    short_radius = add_doctor(client, coordinator, 3, "Vimy", "62580", home_visits=True, home_visit_radius_km=3)
    visits = add_doctor(client, coordinator, 4, "Arras", "62000", home_visits=True, home_visit_radius_km=10)
    too_far = add_doctor(client, coordinator, 5, "Vimy", "62580", max_distance_km=5)
    english = add_doctor(client, coordinator, 6, "Arras", "62000", languages=["en"])
    full = add_doctor(client, coordinator, 7, "Arras", "62000", capacity_remaining=0, accepting_new_patients=False)

    plain = submit(client).json()["id"]
    ids = [d["doctor_id"] for d in suggestions(client, coordinator, plain)["doctors"]]
    assert priority_only not in ids and too_far not in ids and full not in ids
    assert {no_home_visits, visits, english, short_radius} <= set(ids)

    fragile = submit(client, given_name="Jean", birth_date=born(80), needs_home_visits=True, languages=["fr"]).json()[
        "id"
    ]
    ids = [d["doctor_id"] for d in suggestions(client, coordinator, fragile)["doctors"]]
    assert ids == [visits]  # home visits within its radius; the others don't visit, or not that far
    reasons = suggestions(client, coordinator, fragile)["doctors"][0]["reasons"]
    assert "fait des visites à domicile jusqu'à 10 km" in reasons

    arabic = submit(client, given_name="Nadia", languages=["ar"]).json()["id"]
    assert suggestions(client, coordinator, arabic)["doctors"] == []  # nobody here speaks Arabic


def test_stale_doctors_are_listed_apart(client, coordinator, db):
    from datetime import timedelta

    from app.core.database import utcnow
    from app.doctors.models import Doctor

    fresh = add_doctor(client, coordinator, 1, "Arras", "62000")
    stale = add_doctor(client, coordinator, 2, "Arras", "62000")
    db.get(Doctor, stale).confirmed_at = utcnow() - timedelta(days=300)
    db.commit()
    body = suggestions(client, coordinator, submit(client).json()["id"])
    assert [d["doctor_id"] for d in body["doctors"]] == [fresh]
    assert [d["doctor_id"] for d in body["stale"]] == [stale]


def test_the_workflow_from_received_to_matched_takes_a_place(client, coordinator):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000", capacity_remaining=1)
    request_id = submit(client).json()["id"]
    url = f"/api/v1/requests/{request_id}/transitions"
    early = client.post(url, json={"to": "matched", "doctor_id": doctor}, headers=coordinator)
    assert early.status_code == 409
    assert (
        client.post(url, json={"to": "proposed", "note": "liste envoyée par SMS"}, headers=coordinator).status_code
        == 200
    )
    matched = client.post(url, json={"to": "matched", "doctor_id": doctor}, headers=coordinator)
    assert matched.status_code == 200
    body = matched.json()
    assert body["status"] == "matched" and body["matched_doctor_id"] == doctor
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [
        (None, "received"),
        ("received", "proposed"),
        ("proposed", "matched"),
    ]
    assert body["events"][1]["text"] == "liste envoyée par SMS"
    assert (
        client.get(f"/api/v1/doctors/{doctor}", headers=coordinator).json()["availability"]["capacity_remaining"] == 0
    )
    assert client.post(url, json={"to": "closed", "reason": "withdrew"}, headers=coordinator).status_code == 409


def test_matching_a_doctor_without_places_is_a_conflict_and_changes_nothing(client, coordinator):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000", capacity_remaining=1)
    first, second = (submit(client, given_name=name).json()["id"] for name in ("Un", "Deux"))
    for request_id in (first, second):
        client.post(f"/api/v1/requests/{request_id}/transitions", json={"to": "proposed"}, headers=coordinator)
    ok = client.post(
        f"/api/v1/requests/{first}/transitions", json={"to": "matched", "doctor_id": doctor}, headers=coordinator
    )
    assert ok.status_code == 200
    refused = client.post(
        f"/api/v1/requests/{second}/transitions", json={"to": "matched", "doctor_id": doctor}, headers=coordinator
    )
    assert refused.status_code == 409
    assert client.get(f"/api/v1/requests/{second}", headers=coordinator).json()["status"] == "proposed"


def test_closing_needs_a_reason(client, coordinator):
    request_id = submit(client).json()["id"]
    url = f"/api/v1/requests/{request_id}/transitions"
    assert client.post(url, json={"to": "closed"}, headers=coordinator).status_code == 422
    closed = client.post(url, json={"to": "closed", "reason": "found_alone"}, headers=coordinator).json()
    assert closed["status"] == "closed" and closed["close_reason"] == "found_alone"


def test_notes_are_kept_in_the_history(client, coordinator):
    request_id = submit(client).json()["id"]
    body = client.post(
        f"/api/v1/requests/{request_id}/notes", json={"text": "Rappeler jeudi matin"}, headers=coordinator
    ).json()
    assert body["events"][-1]["kind"] == "note" and body["events"][-1]["text"] == "Rappeler jeudi matin"


def test_our_great_circle_is_geopys():
    from geopy.distance import great_circle

    from app.geocoding.distance import great_circle_km

    for a, b in [
        ((50.291, 2.7778), (50.2772, 2.8211)),
        ((43.484, 5.624), (50.291, 2.778)),
        ((41.93, 8.70), (-21.1, 55.5)),
    ]:
        assert great_circle_km(*a, *b) == pytest.approx(great_circle(a, b).km, abs=1e-6)

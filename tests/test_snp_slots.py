"""Unscheduled care: publishing slots and patterns, the search for a caller, booking."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from app.demo_people import demo_rpps
from app.notifications.models import OutboxMessage
from app.snp.models import Slot
from app.snp.rules import PARIS, PatternSpec, expand

pytestmark = pytest.mark.usefixtures("demo_territories")


def _doctor(client, headers, n: int, city: str = "Arras", postcode: str = "62000", cpts: str = "grand-arras") -> int:
    body = {
        "cpts": cpts,
        "rpps": demo_rpps(900 + n),
        "family_name": f"Médecin{n}",
        "given_name": "Anne",
        "email": f"anne{n}@example.fr",
        "locations": [{"address": f"{n} rue Pasteur", "postcode": postcode, "city": city}],
    }
    response = client.post("/api/v1/doctors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _next(weekday: int, weeks_ahead: int = 1) -> date:
    today = datetime.now(PARIS).date()
    return today + timedelta(days=(weekday - today.isoweekday()) % 7 + 7 * weeks_ahead)


def _paris(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).isoformat()


# ---- Patterns and daylight saving -------------------------------------------------------------


def test_a_tuesday_pattern_keeps_its_paris_time_across_the_october_clock_change():
    spec = PatternSpec([2], time(16), time(20), 20, date(2026, 10, 20), date(2026, 11, 3))
    slots = list(expand(spec))
    assert len(slots) == 3 * 12
    starts = {s.astimezone(PARIS).strftime("%H:%M") for s, _ in slots}
    assert min(starts) == "16:00" and max(starts) == "19:40"
    # Summer time before the change (UTC+2), winter time after it (UTC+1).
    assert slots[0][0] == datetime(2026, 10, 20, 14, 0, tzinfo=UTC)
    assert slots[12][0] == datetime(2026, 10, 27, 15, 0, tzinfo=UTC)


def test_a_slot_in_the_hour_skipped_in_march_is_not_created():
    spec = PatternSpec([7], time(1, 30), time(3, 30), 30, date(2027, 3, 28), date(2027, 3, 28))
    local = [s.astimezone(PARIS).strftime("%H:%M") for s, _ in expand(spec)]
    # 02:00 and 02:30 do not exist that night, and 01:30–02:00 would end in that gap.
    assert local == ["03:00"]


def test_an_eight_week_pattern_expands_into_slots(client, coordinator):
    doctor_id = _doctor(client, coordinator, 1)
    body = {
        "doctor_id": doctor_id,
        "weekdays": [2],
        "start_time": "16:00",
        "end_time": "20:00",
        "slot_minutes": 20,
        "first_date": _next(2).isoformat(),
        "weeks": 8,
    }
    response = client.post("/api/v1/snp/patterns", json=body, headers=coordinator)
    assert response.status_code == 201, response.text
    assert response.json()["slots_created"] == 8 * 12
    board = client.get(
        "/api/v1/snp/slots",
        params={"from": _paris(_next(2), 0), "to": _paris(_next(2) + timedelta(days=1), 0)},
        headers=coordinator,
    ).json()["items"]
    assert [s["start"][11:16] for s in board][:2] == [
        datetime.fromisoformat(_paris(_next(2), 16)).astimezone(UTC).strftime("%H:%M"),
        datetime.fromisoformat(_paris(_next(2), 16, 20)).astimezone(UTC).strftime("%H:%M"),
    ]


def test_editing_or_removing_a_pattern_never_touches_booked_slots(client, coordinator):
    doctor_id = _doctor(client, coordinator, 2)
    tuesday = _next(2)
    body = {
        "doctor_id": doctor_id,
        "weekdays": [2],
        "start_time": "16:00",
        "end_time": "18:00",
        "slot_minutes": 20,
        "first_date": tuesday.isoformat(),
        "weeks": 2,
    }
    pattern = client.post("/api/v1/snp/patterns", json=body, headers=coordinator).json()
    slots = client.get(
        "/api/v1/snp/slots",
        params={"doctor_id": doctor_id, "to": _paris(tuesday + timedelta(days=30), 0)},
        headers=coordinator,
    ).json()["items"]
    booked = slots[2]
    patient = {"family_name": "Martin", "given_name": "Lucie", "phone": "06 12 34 56 78", "reason": "Fièvre"}
    assert (
        client.post(f"/api/v1/snp/slots/{booked['id']}/bookings", json=patient, headers=coordinator).status_code == 201
    )

    body |= {"start_time": "17:00", "end_time": "19:00", "slot_minutes": 30}
    edited = client.put(f"/api/v1/snp/patterns/{pattern['id']}", json=body, headers=coordinator).json()
    assert edited["slots_removed"] == 11 and edited["booked_slots_kept"] == 1
    after = client.get(
        "/api/v1/snp/slots",
        params={"doctor_id": doctor_id, "to": _paris(tuesday + timedelta(days=30), 0)},
        headers=coordinator,
    ).json()["items"]
    assert any(s["id"] == booked["id"] and s["status"] == "booked" for s in after)
    # 17:00–19:00 in 30 minutes is 4 a day; the one meeting the booked 16:40–17:00 slot? none overlaps it.
    assert sum(s["status"] == "free" for s in after) == 8

    removed = client.delete(f"/api/v1/snp/patterns/{pattern['id']}", headers=coordinator).json()
    assert removed["slots_removed"] == 8 and removed["booked_slots_kept"] == 1
    left = client.get(
        "/api/v1/snp/slots",
        params={"doctor_id": doctor_id, "to": _paris(tuesday + timedelta(days=30), 0)},
        headers=coordinator,
    ).json()["items"]
    assert [s["id"] for s in left] == [booked["id"]]


def test_overlapping_slots_of_one_doctor_are_refused(client, coordinator):
    doctor_id = _doctor(client, coordinator, 3)
    day = _next(3)
    slot = {"doctor_id": doctor_id, "start": _paris(day, 10), "end": _paris(day, 10, 30)}
    assert client.post("/api/v1/snp/slots", json=slot, headers=coordinator).status_code == 201
    again = client.post(
        "/api/v1/snp/slots", json=slot | {"start": _paris(day, 10, 15), "end": _paris(day, 10, 45)}, headers=coordinator
    )
    assert again.status_code == 409


def test_a_doctor_publishes_its_own_slots_only(client, coordinator, make_account):
    own = _doctor(client, coordinator, 4)
    other = _doctor(client, coordinator, 5)
    doctor_headers = make_account("doctor", ["grand-arras"], doctor_rpps=demo_rpps(904))
    day = _next(4)
    mine = client.post(
        "/api/v1/snp/slots",
        json={"doctor_id": own, "start": _paris(day, 9), "end": _paris(day, 9, 20)},
        headers=doctor_headers,
    )
    assert mine.status_code == 201
    theirs = client.post(
        "/api/v1/snp/slots",
        json={"doctor_id": other, "start": _paris(day, 9), "end": _paris(day, 9, 20)},
        headers=doctor_headers,
    )
    assert theirs.status_code == 403
    listed = client.get(
        "/api/v1/snp/slots", params={"to": _paris(day + timedelta(days=1), 0)}, headers=doctor_headers
    ).json()
    assert {s["doctor_id"] for s in listed["items"]} == {own}


def test_a_coordinator_cannot_publish_for_another_cptss_doctor(client, coordinator, make_account):
    doctor_id = _doctor(client, coordinator, 6)
    other = make_account("coordinator", ["provence-sante"])
    day = _next(4)
    response = client.post(
        "/api/v1/snp/slots",
        json={"doctor_id": doctor_id, "start": _paris(day, 9), "end": _paris(day, 9, 20)},
        headers=other,
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "doctor_id"


def test_bad_slot_input_is_a_422_naming_the_field(client, coordinator):
    doctor_id = _doctor(client, coordinator, 7)
    day = _next(4)
    cases = [
        ({"doctor_id": doctor_id, "start": _paris(day, 10), "end": _paris(day, 9)}, None),
        ({"doctor_id": doctor_id, "start": "2026-12-01T10:00:00", "end": _paris(day, 9)}, "start"),
        ({"doctor_id": doctor_id, "start": _paris(day, 9), "end": _paris(day, 9, 20), "kind": "XX"}, "kind"),
        (
            {"doctor_id": doctor_id, "start": _paris(day, 9), "end": _paris(day, 9, 20), "visibility": ["ALL"]},
            "visibility.0",
        ),
    ]
    for body, field in cases:
        response = client.post("/api/v1/snp/slots", json=body, headers=coordinator)
        assert response.status_code == 422, body
        if field:
            assert field in [f["field"] for f in response.json()["fields"]]


# ---- Search ------------------------------------------------------------------------------------


def test_search_ranks_by_start_then_distance_and_says_what_it_examined(client, coordinator):
    arras = _doctor(client, coordinator, 10, "Arras", "62000")
    far = _doctor(client, coordinator, 11, "Vimy", "62580")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    for doctor_id in (far, arras):
        client.post(
            "/api/v1/snp/slots",
            json={
                "doctor_id": doctor_id,
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=20)).isoformat(),
            },
            headers=coordinator,
        )
    later = start + timedelta(hours=1)
    client.post(
        "/api/v1/snp/slots",
        json={"doctor_id": far, "start": later.isoformat(), "end": (later + timedelta(minutes=20)).isoformat()},
        headers=coordinator,
    )
    beyond = start + timedelta(hours=60)  # outside the default 48 hours
    client.post(
        "/api/v1/snp/slots",
        json={"doctor_id": arras, "start": beyond.isoformat(), "end": (beyond + timedelta(minutes=20)).isoformat()},
        headers=coordinator,
    )

    answer = client.get(
        "/api/v1/snp/search", params={"cpts": "grand-arras", "postcode": "62000", "city": "Arras"}, headers=coordinator
    ).json()
    assert answer["slots_examined"] == 3 and answer["doctors_examined"] == 2
    assert [i["slot"]["doctor_id"] for i in answer["items"]] == [arras, far, far]
    assert answer["items"][0]["distance_km"] < answer["items"][1]["distance_km"]

    near = client.get(
        "/api/v1/snp/search",
        params={"cpts": "grand-arras", "postcode": "62000", "city": "Arras", "max_distance_km": 5},
        headers=coordinator,
    ).json()
    assert [i["slot"]["doctor_id"] for i in near["items"]] == [arras]


def test_search_needs_a_place_for_a_maximum_distance(client, coordinator):
    response = client.get(
        "/api/v1/snp/search", params={"cpts": "grand-arras", "max_distance_km": 5}, headers=coordinator
    )
    assert response.status_code == 422


# ---- Booking -------------------------------------------------------------------------------------


@pytest.fixture
def free_slot(client, coordinator):
    doctor_id = _doctor(client, coordinator, 20)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    body = {"doctor_id": doctor_id, "start": start.isoformat(), "end": (start + timedelta(minutes=20)).isoformat()}
    return client.post("/api/v1/snp/slots", json=body, headers=coordinator).json()["id"]


PATIENT = {"family_name": "Durand", "given_name": "Marc", "phone": "06 11 22 33 44", "reason": "Entorse"}


def test_of_twenty_concurrent_bookings_exactly_one_succeeds(client, coordinator, free_slot, db):
    def attempt(n: int) -> int:
        return client.post(
            f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT | {"given_name": f"Marc{n}"}, headers=coordinator
        ).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(attempt, range(20)))
    assert statuses.count(201) == 1 and statuses.count(409) == 19
    assert db.scalar(select(Slot.status).where(Slot.id == free_slot)) == "booked"


def test_a_booking_sends_a_confirmation_and_cancelling_frees_the_slot(client, coordinator, free_slot, db):
    booked = client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT, headers=coordinator)
    assert booked.status_code == 201
    booking = booked.json()
    assert booking["phone"] == "+33611223344" and booking["origin"] == "cpts"
    assert [(m["kind"], m["channel"], m["status"]) for m in booking["messages"]] == [("snp_booking", "sms", "pending")]
    sms = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "snp_booking")).one()
    assert "Dr Anne Médecin20" in sms.body and "20 rue Pasteur" in sms.body

    cancelled = client.post(f"/api/v1/snp/bookings/{booking['id']}/cancel", headers=coordinator)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/snp/bookings/{booking['id']}/cancel", headers=coordinator).status_code == 409
    again = client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT, headers=coordinator)
    assert again.status_code == 201


def test_a_booked_slot_cannot_be_deleted(client, coordinator, free_slot):
    client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT, headers=coordinator)
    assert client.delete(f"/api/v1/snp/slots/{free_slot}", headers=coordinator).status_code == 409


def test_outcomes_are_recorded_after_the_time_and_feed_the_indicators(client, coordinator, free_slot, db):
    booking = client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT, headers=coordinator).json()
    early = client.post(
        f"/api/v1/snp/bookings/{booking['id']}/outcome", json={"outcome": "fulfilled"}, headers=coordinator
    )
    assert early.status_code == 409
    past = datetime.now(UTC) - timedelta(hours=1)
    db.execute(update(Slot).where(Slot.id == free_slot).values(start_at=past, end_at=past + timedelta(minutes=20)))
    db.commit()
    done = client.post(
        f"/api/v1/snp/bookings/{booking['id']}/outcome", json={"outcome": "fulfilled"}, headers=coordinator
    )
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    figures = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator).json()["unscheduled_care"]
    assert figures["slots_offered"] == 1 and figures["slots_booked"] == 1 and figures["slots_used"] == 1


def test_another_cptss_coordinator_sees_neither_slot_nor_booking(client, coordinator, free_slot, make_account):
    booking = client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT, headers=coordinator).json()
    other = make_account("coordinator", ["provence-sante"])
    assert client.get(f"/api/v1/snp/slots/{free_slot}", headers=other).status_code == 404
    assert client.get(f"/api/v1/snp/bookings/{booking['id']}", headers=other).status_code == 404
    assert client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT, headers=other).status_code == 404
    assert client.post(f"/api/v1/snp/bookings/{booking['id']}/cancel", headers=other).status_code == 404


def test_a_regulator_cannot_book_through_the_api(client, free_slot, make_account):
    regulator = make_account("regulator", ["grand-arras"])
    assert client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=PATIENT, headers=regulator).status_code == 403


def test_a_centre_publishes_its_own_slots(client, coordinator):
    centre = client.post(
        "/api/v1/snp/centres",
        json={
            "cpts": "grand-arras",
            "name": "CSNP d'Arras",
            "address": "2 place de la Gare",
            "postcode": "62000",
            "city": "Arras",
        },
        headers=coordinator,
    )
    assert centre.status_code == 201
    day = _next(6)
    body = {
        "centre_id": centre.json()["id"],
        "weekdays": [6],
        "start_time": "09:00",
        "end_time": "12:00",
        "slot_minutes": 15,
        "first_date": day.isoformat(),
        "weeks": 1,
    }
    assert client.post("/api/v1/snp/patterns", json=body, headers=coordinator).json()["slots_created"] == 12

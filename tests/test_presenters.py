"""One presenter per resource (issue 11): a request, a slot, a pattern, a suggested doctor read
the same through the API and on the workspace's pages, because both are built by the same
Pydantic model from the stored row."""

import html
import json
import re
from datetime import date, datetime, time, timedelta

import pytest

from app.core.database import utcnow
from app.demo_people import demo_rpps
from app.requests.models import PatientRequest
from app.requests.schemas import RequestSummary
from app.snp.rules import PARIS
from app.territories.models import Territory

pytestmark = pytest.mark.usefixtures("demo_territories")

BOARD = "/espace/soins-non-programmes"


@pytest.fixture
def coordinator(make_account):
    return make_account("coordinator", ["grand-arras"])


def _born(years_ago: int) -> str:
    return (date.today() - timedelta(days=round(365.25 * years_ago) + 5)).isoformat()


def _submit(client, **changes) -> int:
    body = {
        "family_name": "Lemaire",
        "given_name": "Odile",
        "birth_date": _born(74),
        "phone": "06 12 34 56 78",
        "address": "5 rue de Cambrai",
        "postcode": "62217",
        "city": "Tilloy-lès-Mofflaines",
        "ald": True,
        "css_or_ame": "no",
        "no_doctor_reason": "doctor_left",
        "consent": True,
        "cpts": "grand-arras",
    } | changes
    response = client.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _doctor(client, headers, n: int) -> int:
    body = {
        "cpts": "grand-arras",
        "rpps": demo_rpps(700 + n),
        "family_name": f"Presentateur{n}",
        "given_name": "Anne",
        "email": f"presentateur{n}@example.fr",
        "locations": [{"address": f"{n} rue Pasteur", "postcode": "62000", "city": "Arras"}],
        "availability": {"accepting_new_patients": True, "capacity_remaining": 4},
    }
    response = client.post("/api/v1/doctors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _text(page: str) -> str:
    """The page's text as read: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# ---- Requests ---------------------------------------------------------------------------------


def test_a_request_reads_the_same_in_the_api_queue_its_record_and_the_pages(client, coordinator):
    request_id = _submit(client)
    queued = client.get("/api/v1/requests", headers=coordinator).json()["items"]
    (item,) = [r for r in queued if r["id"] == request_id]
    record = client.get(f"/api/v1/requests/{request_id}", headers=coordinator).json()
    shared = (
        "cpts",
        "status",
        "given_name",
        "family_name",
        "age",
        "commune_name",
        "source",
        "priority",
        "days_waiting",
    )
    assert {k: item[k] for k in shared} == {k: record[k] for k in shared}
    assert item["age"] == 74 and item["priority"]["groups"] == ["ald", "age_70"] and item["days_waiting"] == 0
    assert item["cpts"] == "grand-arras" and item["source"] is None

    queue_page = _text(client.get("/espace/demandes", headers=coordinator).text)
    assert "LEMAIRE Odile , 74 ans" in queue_page
    assert item["priority"]["explanation"] in queue_page
    assert "0 jour Tilloy-lès-Mofflaines formulaire direct" in queue_page

    request_page = _text(client.get(f"/espace/demandes/{request_id}", headers=coordinator).text)
    assert "LEMAIRE Odile, 74 ans" in request_page
    assert f"{item['priority']['explanation']} En attente depuis 0 jour." in request_page
    assert "(formulaire direct)" in request_page


def test_the_presenter_reads_age_priority_and_waiting_on_the_day_it_is_given():
    """The age, the 70-and-over group and the days waiting are the reading day's, not intake's."""
    territory = Territory(slug="t", name="T", weight_ald=1, weight_age_70=3, weight_css=1)
    today = date(2026, 11, 23)
    row = PatientRequest(
        id=7,
        status="received",
        family_name="Vasseur",
        given_name="Paul",
        birth_date=date(1956, 11, 24),  # 70 tomorrow
        commune_name="Arras",
        ald=False,
        css_or_ame="no",
        aged_70_or_more=False,
        created_at=datetime.combine(today - timedelta(days=3), time(9)),
        territory=territory,
        source=None,
    )
    on_the_eve = RequestSummary.from_row(row, today)
    assert (on_the_eve.age, on_the_eve.priority.groups, on_the_eve.priority.score) == (69, [], 0)
    assert on_the_eve.days_waiting == 3 and on_the_eve.cpts == "t" and on_the_eve.name == "VASSEUR Paul"
    birthday = RequestSummary.from_row(row, today + timedelta(days=1))
    assert (birthday.age, birthday.priority.groups, birthday.priority.score) == (70, ["age_70"], 3)
    assert birthday.days_waiting == 4
    assert "70 ans ou plus" in birthday.priority.explanation


def test_suggested_doctors_read_the_same_in_the_api_and_on_the_request_page_and_its_map(client, coordinator):
    doctor_id = _doctor(client, coordinator, 1)
    request_id = _submit(client, birth_date=_born(40), ald=False)
    suggestions = client.get(f"/api/v1/requests/{request_id}/suggestions", headers=coordinator).json()
    (doctor,) = [d for d in suggestions["doctors"] if d["doctor_id"] == doctor_id]
    assert doctor["name"] == "Dr Anne Presentateur1" and doctor["places_left"] == 4
    assert doctor["latitude"] is not None and doctor["longitude"] is not None

    page = client.get(f"/espace/demandes/{request_id}", headers=coordinator).text
    assert f'name="doctor_ids" value="{doctor_id}"' in page
    row = _text(page.split(f'id="pick-{doctor_id}"')[1].split("</tr>")[0])
    distance = f"{doctor['distance_km']:.1f}".replace(".", ",")
    assert f"Dr Anne Presentateur1 {doctor['address']}, {doctor['commune']}" in row
    assert f"{distance} km 4" in row
    map_data = json.loads(html.unescape(re.search(r'data-map="([^"]*)"', page).group(1)))
    assert [(d["lat"], d["lon"]) for d in map_data["doctors"] if "Presentateur1" in d["label"]] == [
        (doctor["latitude"], doctor["longitude"])
    ]


# ---- Unscheduled care -------------------------------------------------------------------------


def _tomorrow_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(datetime.now(PARIS).date() + timedelta(days=1), time(hour, minute), tzinfo=PARIS)


def test_a_doctors_slot_reads_the_same_in_the_api_and_on_the_board(client, coordinator):
    doctor_id = _doctor(client, coordinator, 2)
    start = _tomorrow_at(16, 20)
    created = client.post(
        "/api/v1/snp/slots",
        json={
            "doctor_id": doctor_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=20)).isoformat(),
            "visibility": ["SNP", "CPTS"],
        },
        headers=coordinator,
    )
    assert created.status_code == 201, created.text
    slot = created.json()
    assert slot == client.get(f"/api/v1/snp/slots/{slot['id']}", headers=coordinator).json()
    assert (slot["territory"], slot["doctor_name"], slot["centre_name"]) == (
        "grand-arras",
        "Dr Anne Presentateur2",
        None,
    )
    assert slot["place"] == "2 rue Pasteur, 62000 Arras" and slot["status"] == "free"
    listed = client.get(
        "/api/v1/snp/slots",
        params={"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()},
        headers=coordinator,
    ).json()["items"]
    assert listed == [slot]

    board = client.get(BOARD, params={"jour": start.date().isoformat()}, headers=coordinator).text
    section = board.split(f'aria-label="{slot["doctor_name"]}, {start:%d/%m}"')[1].split("</section>")[0]
    assert slot["place"] in section
    chip = _text(section.split(f'id="creneau-{slot["id"]}"')[1].split("</li>")[0])
    assert chip.startswith("> 16:20–16:40 · Au cabinet · Libre (Régulation SAS (SNP), CPTS)")
    assert f"/creneaux/{slot['id']}/reserver" in section


def test_a_centres_slot_names_its_centre_in_the_api_the_board_and_the_booking_page(client, coordinator):
    centre = client.post(
        "/api/v1/snp/centres",
        json={
            "cpts": "grand-arras",
            "name": "Centre de soins du Beffroi",
            "address": "1 place des Héros",
            "postcode": "62000",
            "city": "Arras",
        },
        headers=coordinator,
    )
    assert centre.status_code == 201, centre.text
    assert centre.json() in client.get("/api/v1/snp/centres", headers=coordinator).json()
    start = _tomorrow_at(9)
    slot = client.post(
        "/api/v1/snp/slots",
        json={
            "centre_id": centre.json()["id"],
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
        },
        headers=coordinator,
    ).json()
    assert (slot["doctor_name"], slot["centre_name"]) == (None, "Centre de soins du Beffroi")
    assert slot["place"] == "Centre de soins du Beffroi, 1 place des Héros, 62000 Arras"

    board = client.get(BOARD, params={"jour": start.date().isoformat()}, headers=coordinator).text
    assert f'aria-label="Centre de soins du Beffroi, {start:%d/%m}"' in board
    booking_page = _text(client.get(f"{BOARD}/creneaux/{slot['id']}/reserver", headers=coordinator).text)
    assert f"Avec Centre de soins du Beffroi Où {slot['place']}" in booking_page
    assert f"{start:%d/%m/%Y} de 09:00 à 09:30" in booking_page


def test_a_pattern_reads_the_same_in_the_api_and_on_the_board(client, coordinator):
    doctor_id = _doctor(client, coordinator, 3)
    first = datetime.now(PARIS).date() + timedelta(days=7)
    created = client.post(
        "/api/v1/snp/patterns",
        json={
            "doctor_id": doctor_id,
            "weekdays": [first.isoweekday()],
            "start_time": "18:00",
            "end_time": "19:00",
            "slot_minutes": 30,
            "first_date": first.isoformat(),
            "weeks": 2,
        },
        headers=coordinator,
    )
    assert created.status_code == 201, created.text
    pattern = created.json()
    assert pattern["slots_created"] == 4 and pattern["territory"] == "grand-arras"
    (listed,) = client.get("/api/v1/snp/patterns", headers=coordinator).json()
    assert listed == pattern | {"slots_created": 0}

    board = client.get(BOARD, headers=coordinator).text
    row = _text(board.split('id="patterns"')[1].split("</table>")[0])
    last = date.fromisoformat(pattern["last_date"])
    assert "Dr Anne Presentateur3" in row
    assert f"18:00–19:00, 30 min du {first:%d/%m/%Y} au {last:%d/%m/%Y}" in row


def test_a_booking_reads_its_slot_as_the_slot_itself_reads(client, coordinator):
    doctor_id = _doctor(client, coordinator, 4)
    start = _tomorrow_at(17)
    slot = client.post(
        "/api/v1/snp/slots",
        json={"doctor_id": doctor_id, "start": start.isoformat(), "end": (start + timedelta(minutes=20)).isoformat()},
        headers=coordinator,
    ).json()
    booked = client.post(
        f"/api/v1/snp/slots/{slot['id']}/bookings",
        json={"family_name": "Martin", "given_name": "Lucie", "phone": "06 12 34 56 78", "reason": "Fièvre"},
        headers=coordinator,
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    now_slot = client.get(f"/api/v1/snp/slots/{slot['id']}", headers=coordinator).json()
    assert now_slot == slot | {"status": "booked", "booking_id": booking["id"]}
    assert booking["slot"] == now_slot
    assert [m["kind"] for m in booking["messages"]] and all(m["status"] == "pending" for m in booking["messages"])
    assert booking == client.get(f"/api/v1/snp/bookings/{booking['id']}", headers=coordinator).json()
    assert utcnow() < start

"""Issue 12, 8, 9 and 11: what patients read (the outbox's messages read back), the ranking's
order as the page says it, and the pages' words in French."""

import html
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from app.core.database import utcnow
from app.core.identifiers import french_phone
from app.doctors.models import PracticeLocation
from app.doctors.repository import DoctorCard, PracticeCard
from app.notifications.models import OutboxMessage
from app.requests.models import PatientRequest
from app.requests.ranking import ORDER_EXPLANATION, rank_doctors
from app.web.labels import french_number, of_name, plural
from tests.factories import born, doctor_body, submit
from tests.helpers.workspace import COORDINATOR, csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("demo")

CPTS_PHONE = "03 21 00 00 01"  # the demo's Grand Arras, stored as +33321000001


def add_doctor_with_phone(client, headers, n: int) -> int:
    body = doctor_body(n)
    body["locations"][0]["phone"] = "03 21 55 66 77"
    response = client.post("/api/v1/doctors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def outbox_of(db, request_id: int) -> list[OutboxMessage]:
    db.rollback()  # a fresh snapshot: what the app committed since
    # The intake's receipt aside (app.requests.receipts): the messages of the workflow.
    query = select(OutboxMessage).where(OutboxMessage.request_id == request_id, OutboxMessage.kind != "receipt")
    return list(db.scalars(query))


def transition(client, headers, request_id: int, **body):
    response = client.post(f"/api/v1/requests/{request_id}/transitions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


# ---- 8. Messages --------------------------------------------------------------------------------


def test_doctor_found_tells_where_the_practice_is_its_phone_and_how_to_book(client, db, coordinator):
    doctor = add_doctor_with_phone(client, coordinator, 1)
    request_id = submit(client, given_name="Hélène", birth_date=born(61)).json()["id"]
    transition(client, coordinator, request_id, to="proposed")
    transition(client, coordinator, request_id, to="matched", doctor_id=doctor, notify=True)
    [sms] = outbox_of(db, request_id)
    assert sms.channel == "sms" and sms.kind == "outcome"
    assert "le Dr Test Docteur1 (1 place de la Mairie, Arras) accepte de devenir votre médecin traitant" in sms.body
    assert "Appelez le 03 21 55 66 77 pour un 1er RDV" in sms.body
    assert "+33" not in sms.body


def test_doctor_found_by_email_explains_the_first_appointment(client, db, coordinator):
    doctor = add_doctor_with_phone(client, coordinator, 2)
    request_id = submit(client, given_name="Inès", birth_date=born(33), preferred_channel="email").json()["id"]
    transition(client, coordinator, request_id, to="proposed")
    transition(client, coordinator, request_id, to="matched", doctor_id=doctor, notify=True)
    [email] = outbox_of(db, request_id)
    assert email.channel == "email"
    assert "Son cabinet : 1 place de la Mairie, Arras" in email.body
    assert "Téléphone du cabinet : 03 21 55 66 77" in email.body
    assert "premier rendez-vous" in email.body and "carte Vitale" in email.body
    # Signed by the CPTS with its phone, then the privacy page's link that every message ends with.
    signature, privacy = email.body.rstrip().rsplit("\n\n", 1)
    assert signature.endswith(f"CPTS du Grand Arras – {CPTS_PHONE}")
    assert privacy.startswith("Vos données personnelles et vos droits : ") and privacy.endswith("/confidentialite")


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("unreachable", "nous n'avons pas réussi à vous joindre"),
        ("found_alone", "vous nous avez indiqué avoir trouvé un médecin traitant"),
        ("moved_out", "vous avez quitté le territoire de la CPTS"),
    ],
)
def test_a_closed_sms_gives_the_reason_and_the_coordination_phone(client, db, coordinator, reason, why):
    request_id = submit(client, given_name="Jules", birth_date=born(40)).json()["id"]
    transition(client, coordinator, request_id, to="closed", reason=reason, notify=True)
    [sms] = outbox_of(db, request_id)
    assert f"votre demande de médecin traitant est close : {why}." in sms.body
    assert f"Appelez la coordination au {CPTS_PHONE}." in sms.body


def test_the_list_gives_no_distance_from_a_commune_centre_and_the_cpts_phone_nationally(client, db, coordinator):
    doctor = add_doctor_with_phone(client, coordinator, 3)
    request_id = submit(client, given_name="Karim", birth_date=born(50), preferred_channel="email").json()["id"]
    body = {"doctor_ids": [doctor], "channel": "email"}
    response = client.post(f"/api/v1/requests/{request_id}/send-list", json=body, headers=coordinator)
    assert response.status_code == 200, response.text
    [email] = outbox_of(db, request_id)
    assert "Dr Test Docteur3, 1 place de la Mairie, Arras – 03 21 55 66 77\n" in email.body  # no "(à 0,0 km)"
    assert " km" not in email.body
    assert CPTS_PHONE in email.body and "+33321000001" not in email.body


def test_the_list_gives_the_distance_between_two_placed_addresses(client, db, coordinator):
    doctor = add_doctor_with_phone(client, coordinator, 4)
    request_id = submit(client, given_name="Léna", birth_date=born(27), preferred_channel="email").json()["id"]
    # As the BAN would have placed them: the patient's house and the practice, 2.2 km apart.
    db.execute(
        update(PatientRequest)
        .where(PatientRequest.id == request_id)
        .values(latitude=50.2910, longitude=2.7775, precision="housenumber")
    )
    db.execute(
        update(PracticeLocation)
        .where(PracticeLocation.doctor_id == doctor)
        .values(latitude=50.3108, longitude=2.7775, precision="street")
    )
    db.commit()
    body = {"doctor_ids": [doctor], "channel": "email"}
    client.post(f"/api/v1/requests/{request_id}/send-list", json=body, headers=coordinator)
    [email] = outbox_of(db, request_id)
    assert "(à 2,2 km de chez vous)" in email.body


def test_one_phone_format_everywhere():
    assert french_phone("+33321000001") == CPTS_PHONE
    assert french_phone("+33612345678") == "06 12 34 56 78"
    assert french_phone("+262692123456") == "0692 12 34 56"  # La Réunion, dialled from there
    assert french_phone("+442071234567") == "+44 20 7123 4567"  # abroad: international
    assert french_phone("n/a") == "n/a" and french_phone(None) == ""


def test_the_follow_up_page_shows_the_cpts_phone_nationally(client):
    follow_up = submit(client, given_name="Maël", birth_date=born(22)).json()["follow_up_url"]
    page = client.get(follow_up.removeprefix("http://127.0.0.1:8000")).text
    assert CPTS_PHONE in page and "+33321000001" not in page


# ---- 9. Ranking and its text ------------------------------------------------------------------


def card(id: int, km_north: float, places: int = 5, priority_only: bool = False) -> DoctorCard:
    location = PracticeCard(
        id=id,
        address="1 rue Pasteur",
        city="Arras",
        phone=None,
        latitude=50.2910 + km_north / 111.195,
        longitude=2.7775,
    )
    return DoctorCard(
        id=id,
        given_name="Anne",
        family_name=f"Docteur{id}",
        phone=None,
        active=True,
        accepting_new_patients=True,
        capacity_remaining=places,
        available_until=None,
        priority_only=priority_only,
        home_visits=False,
        home_visit_radius_km=None,
        languages=["fr"],
        max_distance_km=None,
        confirmed_at=utcnow() - timedelta(days=3),
        locations=[location],
    )


def test_the_order_is_the_one_the_page_states():
    """Reserved places first, then whole kilometres, then places: 4.1 km with more places
    comes before 3.8 km, as ORDER_EXPLANATION says."""
    patient = PatientRequest(
        birth_date=date.fromisoformat(born(75)),
        ald=True,
        css_or_ame="no",
        needs_home_visits=False,
        languages=[],
        latitude=50.2910,
        longitude=2.7775,
    )
    doctors = [card(1, 3.8, places=1), card(2, 4.1, places=6), card(3, 9.0, priority_only=True), card(4, 1.0)]
    ranking = rank_doctors(patient, doctors)
    assert [s.doctor.id for s in ranking.eligible] == [3, 4, 2, 1]
    assert "réservent leurs places aux patients prioritaires" in ORDER_EXPLANATION
    assert "kilomètres arrondis" in ORDER_EXPLANATION and "le plus de places" in ORDER_EXPLANATION


def test_the_request_page_states_the_order_numbers_the_map_and_preselects_no_doctor(client, coordinator):
    request_id = submit(client, given_name="Nina", birth_date=born(44)).json()["id"]
    transition(client, coordinator, request_id, to="proposed")
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/demandes/{request_id}").text
    assert ORDER_EXPLANATION in html.unescape(page) and "du plus proche au plus lointain." not in page
    listed = re.findall(r'<label for="pick-(\d+)">(\d+)\. ([^<]+)</label>', page)
    assert len(listed) >= 2
    map_data = json.loads(html.unescape(re.search(r'data-map="([^"]+)"', page).group(1)))
    by_number = {str(number): name for _, number, name in listed}
    assert map_data["doctors"] and all(by_number[str(d["number"])] in d["label"] for d in map_data["doctors"])
    select_html = re.search(r'<select id="match-doctor".*?</select>', page, re.S).group(0)
    options = re.findall(r"<option[^>]*>", select_html)
    assert options[0] == '<option value="" selected>' and all("selected" not in o for o in options[1:])
    # Sent without a choice: refused, nothing recorded.
    refused = client.post(f"/espace/demandes/{request_id}/attribution", data={"csrf_token": csrf_of(page)})
    assert "Médecin requis" in html.unescape(refused.text)


# ---- 11. Wording ------------------------------------------------------------------------------


def test_french_counts_numbers_and_elision():
    assert [plural(n, "jour") for n in (0, 1, 2)] == ["0 jour", "1 jour", "2 jours"]
    assert french_number(0.0) == "0,0" and french_number(1234.5) == "1\u202f234,5"
    assert of_name("Odette") == "d'Odette" and of_name("Hélène") == "d'Hélène" and of_name("Martin") == "de Martin"


def test_the_pages_speak_french(client, coordinator):
    request_id = submit(client, family_name="Orsini", given_name="Odette", birth_date=born(80)).json()["id"]
    transition(client, coordinator, request_id, to="proposed")
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/demandes/{request_id}").text
    assert "<title>Demande d&#39;ORSINI Odette" in page or "<title>Demande d'ORSINI Odette" in page
    assert "En attente depuis 0 jour." in page
    audit = client.get(f"/espace/journal?objet=patient_request&numero={request_id}").text
    cells = re.findall(r"<td>([^<]*)</td>", audit)
    assert "lecture" in cells and "coordination" in cells
    assert "read" not in cells and "coordinator" not in cells
    practice_words = client.get("/espace/journal").text
    assert "request.create" not in practice_words


def test_the_indicators_write_numbers_the_french_way(client, coordinator):
    doctor = add_doctor_with_phone(client, coordinator, 5)
    request_id = submit(client, given_name="Oscar", birth_date=born(35)).json()["id"]
    transition(client, coordinator, request_id, to="proposed")
    transition(client, coordinator, request_id, to="matched", doctor_id=doctor)
    sign_in(client, COORDINATOR)
    page = client.get("/espace/indicateurs?du=2020-01-01").text
    median = re.search(r"Délai médian jusqu&#39;au médecin \(jours\)</th><td class=\"num\">([^<]+)<", page)
    assert median and re.fullmatch(r"\d+,\d", median.group(1))


def test_the_unscheduled_care_search_lists_the_communes_it_asks_to_choose_from(client):
    sign_in(client, COORDINATOR)
    page = client.get("/espace/soins-non-programmes/recherche?code_postal=62217&commune=Nulle-Part").text
    assert 'id="candidates"' in page
    assert re.search(r"commune=Tilloy-l%C3%A8s-Mofflaines|commune=Tilloy", page)

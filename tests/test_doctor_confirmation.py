"""The signed link a doctor receives to confirm its availability without an account."""

from datetime import timedelta

import pytest

from app.demo_people import demo_rpps

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def stale_doctor(client, coordinator, db):
    from app.core.database import utcnow
    from app.doctors.models import Doctor

    body = {
        "cpts": "grand-arras",
        "rpps": demo_rpps(960),
        "family_name": "Roussel",
        "given_name": "Yann",
        "email": "yann.roussel@example.fr",
        "locations": [{"address": "4 rue Pasteur", "postcode": "62000", "city": "Arras"}],
        "availability": {"accepting_new_patients": True, "capacity_remaining": 4},
    }
    doctor_id = client.post("/api/v1/doctors", json=body, headers=coordinator).json()["id"]
    db.get(Doctor, doctor_id).confirmed_at = utcnow() - timedelta(days=200)
    db.commit()
    return doctor_id


def link_path(client, coordinator, doctor_id) -> str:
    response = client.post(f"/api/v1/doctors/{doctor_id}/confirmation-link", headers=coordinator)
    assert response.status_code == 200
    url = response.json()["url"]
    assert url.startswith("http://127.0.0.1:8000/medecins/confirmer/")
    return url.removeprefix("http://127.0.0.1:8000")


def doctor(client, coordinator, doctor_id):
    return client.get(f"/api/v1/doctors/{doctor_id}", headers=coordinator).json()


def test_one_click_confirms_and_the_entry_is_fresh_again(client, coordinator, stale_doctor):
    assert doctor(client, coordinator, stale_doctor)["stale"] is True
    path = link_path(client, coordinator, stale_doctor)
    page = client.get(path)
    assert page.status_code == 200
    assert "Docteur Yann Roussel" in page.text and "<strong>4</strong>" in page.text
    confirmed = client.post(path, data={"action": "confirm"})
    assert confirmed.status_code == 200
    assert "vos disponibilités sont enregistrées" in confirmed.text
    after = doctor(client, coordinator, stale_doctor)
    assert after["stale"] is False
    assert after["availability"]["capacity_remaining"] == 4


def test_the_form_updates_the_availability(client, coordinator, stale_doctor):
    path = link_path(client, coordinator, stale_doctor)
    response = client.post(
        path,
        data={
            "action": "update",
            "accepting_new_patients": "1",
            "capacity_remaining": "7",
            "home_visits": "1",
            "home_visit_radius_km": "8",
            "languages": "fr, ar",
        },
    )
    assert response.status_code == 200
    availability = doctor(client, coordinator, stale_doctor)["availability"]
    assert availability["capacity_remaining"] == 7
    assert availability["home_visit_radius_km"] == 8
    assert availability["languages"] == ["ar", "fr"]


def test_invalid_form_values_are_shown_next_to_the_field_in_french(client, coordinator, stale_doctor):
    path = link_path(client, coordinator, stale_doctor)
    response = client.post(path, data={"action": "update", "capacity_remaining": "-3"})
    assert response.status_code == 422
    assert 'id="capacity-err"' in response.text and "Valeur trop petite." in response.text
    assert doctor(client, coordinator, stale_doctor)["stale"] is True


def test_confirmation_through_the_link_is_audited(client, coordinator, stale_doctor):
    client.post(link_path(client, coordinator, stale_doctor), data={"action": "confirm"})
    trail = client.get("/api/v1/audit", params={"object_type": "doctor"}, headers=coordinator).json()
    assert trail[0]["action"] == "doctor.confirm" and trail[0]["actor_role"] == "link"


def test_tampered_link_is_refused(client, coordinator, stale_doctor):
    path = link_path(client, coordinator, stale_doctor)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.get(tampered).status_code == 404
    assert client.post(tampered, data={"action": "confirm"}).status_code == 404


def test_expired_link_is_refused(settings, engine, coordinator, stale_doctor, client):
    from fastapi.testclient import TestClient

    from app.main import create_app

    path = link_path(client, coordinator, stale_doctor)
    expired_app = create_app(settings.model_copy(update={"confirmation_link_days": -1}))
    with TestClient(expired_app) as other:
        response = other.get(path)
    assert response.status_code == 410
    assert "expiré" in response.text


def test_link_of_another_deployment_key_is_refused(settings, engine, coordinator, stale_doctor, client):
    from fastapi.testclient import TestClient

    from app.main import create_app

    path = link_path(client, coordinator, stale_doctor)
    with TestClient(create_app(settings.model_copy(update={"secret_key": "another key"}))) as other:
        assert other.get(path).status_code == 404


def test_only_coordinators_make_links(client, make_account, stale_doctor):
    other = make_account("coordinator", ["provence-sante"])
    assert client.post(f"/api/v1/doctors/{stale_doctor}/confirmation-link", headers=other).status_code == 404
    professional = make_account("professional", ["grand-arras"])
    assert client.post(f"/api/v1/doctors/{stale_doctor}/confirmation-link", headers=professional).status_code == 403


def test_stale_doctors_are_reminded_by_email_with_their_link(client, coordinator, stale_doctor, settings, engine):
    from sqlalchemy.orm import sessionmaker

    from app.core.database import for_writing
    from app.notifications.outbox import OutboxWorker
    from app.notifications.senders import SmtpSender
    from tests.fakes.smtp import SmtpServer

    fresh = client.post(
        "/api/v1/doctors",
        headers=coordinator,
        json={
            "cpts": "grand-arras",
            "rpps": demo_rpps(961),
            "family_name": "Fabre",
            "given_name": "Inès",
            "email": "ines.fabre@example.fr",
            "locations": [{"address": "2 rue Pasteur", "postcode": "62000", "city": "Arras"}],
        },
    )
    assert fresh.status_code == 201
    response = client.post("/api/v1/doctors/reminders", params={"cpts": "grand-arras"}, headers=coordinator)
    assert response.json() == {"queued": 1}
    smtp = SmtpServer()
    smtp.start()
    try:
        configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port})
        OutboxWorker(configured, sessionmaker(bind=for_writing(engine)), {"email": SmtpSender(configured)}).run_once()
    finally:
        smtp.stop()
    [email] = smtp.messages
    assert email["To"] == "yann.roussel@example.fr"
    link = next(line for line in email.get_content().splitlines() if "/medecins/confirmer/" in line).strip()
    assert client.post(link.removeprefix("http://127.0.0.1:8000"), data={"action": "confirm"}).status_code == 200
    assert client.get(f"/api/v1/doctors/{stale_doctor}", headers=coordinator).json()["stale"] is False

"""The workspace in a real headless Chromium: the coordinator's day, a doctor's capacity,
isolation between CPTS, and axe-core's accessibility check on every main page."""

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.core.database import utcnow
from app.demo_people import DEMO_PASSWORD, demo_rpps
from app.doctors.models import Doctor
from app.requests.models import PatientRequest
from app.requests.schemas import RequestCreate
from app.requests.service import submit_request
from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in
from tests.fakes.smtp import SmtpServer

pytestmark = pytest.mark.browser


def _urgent_request(db, geocoding) -> int:
    """An ALD, 70+, CSS patient with an e-mail address, waiting for a month: first in the queue."""
    today = utcnow().date()
    created, _, _ = submit_request(
        db,
        geocoding,
        None,
        RequestCreate(
            family_name="Urgent",
            given_name="Odette",
            birth_date=today.replace(year=today.year - 81, day=1),
            phone="06 98 76 54 32",
            email="odette.urgent@example.fr",
            address="5 rue de Cambrai",
            postcode="62000",
            city="Arras",
            ald=True,
            css="yes",
            no_doctor_reason="doctor_left",
            preferred_channel="email",
            consent=True,
            cpts="grand-arras",
        ),
        "http://test",
    )
    db.execute(
        update(PatientRequest).where(PatientRequest.id == created.id).values(created_at=utcnow() - timedelta(days=30))
    )
    db.commit()
    return created.id


def test_the_coordinators_day(database_url, db, demo, geocoding):
    require_browser()
    request_id = _urgent_request(db, geocoding)
    smtp = SmtpServer()
    smtp.start()
    mail = {"ORIENTATION_SMTP_HOST": "127.0.0.1", "ORIENTATION_SMTP_PORT": str(smtp.port)}
    try:
        with running_server(database_url, env=mail, args=("--with-worker",)) as base, chromium_page() as page:
            page.set_viewport_size(LAPTOP)
            sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
            assert page.url.endswith("/espace/demandes")
            assert_accessible(page, "queue")

            # The most urgent first: open it.
            first = page.locator("#queue tbody tr").first
            assert "URGENT Odette" in first.inner_text() and "ALD" in first.inner_text()
            first.get_by_role("link").click()
            page.wait_for_selector("#suggestions")
            assert page.url.endswith(f"/espace/demandes/{request_id}")
            assert page.locator(".leaflet-marker-icon").count() >= 1  # markers drawn without any tile
            assert_accessible(page, "request")

            # Two doctors, by e-mail: preview, then send.
            boxes = page.locator("#suggestions input[type=checkbox]")
            for i in range(boxes.count()):
                boxes.nth(i).set_checked(i < 2)
            page.get_by_label("E-mail à odette.urgent@example.fr").check()
            page.get_by_role("button", name="Aperçu du message").click()
            page.wait_for_selector("#preview")
            assert "odette.urgent@example.fr" in page.locator("#preview").inner_text()
            page.get_by_role("button", name="Envoyer la liste").click()
            page.wait_for_selector("#flash")
            assert "Liste de 2 médecin(s) envoyée par e-mail" in page.locator("#flash").inner_text()

            # The outbox worker hands the e-mail to the SMTP server.
            # (The worker may also send the coordination its weekly digest: only the patient's
            # messages are counted.)
            def to_patient() -> list:
                return [m for m in smtp.messages if m["To"] == "odette.urgent@example.fr"]

            deadline = time.monotonic() + 20
            while not to_patient() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(to_patient()) == 1
            page.reload()
            assert "envoyé" in page.locator("#messages").inner_text()

            # The patient chose a doctor: the coordinator picks it (none is preselected), records
            # it; its places decrease.
            assert page.locator("#match-doctor").input_value() == ""
            page.select_option("#match-doctor", index=1)
            chosen = page.locator("#match-doctor").input_value()
            db.rollback()
            places = db.get(Doctor, int(chosen)).capacity_remaining
            page.get_by_role("button", name="Enregistrer le médecin").click()
            page.wait_for_selector("#flash")
            assert f"il lui reste {places - 1} place(s)" in page.locator("#flash").inner_text()
            db.rollback()
            assert db.get(Doctor, int(chosen)).capacity_remaining == places - 1
            assert db.get(PatientRequest, request_id).status == "matched"
    finally:
        smtp.stop()


def test_a_doctor_updates_its_capacity(database_url, db, demo):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        sign_in(page, base, "docteur@grand-arras.example.fr")  # on a phone
        assert page.url.endswith("/espace/mon-cabinet")
        assert_accessible(page, "my practice")
        page.get_by_label("J'accepte de nouveaux patients").check()
        page.get_by_label("Places pour de nouveaux patients").fill("7")
        page.get_by_role("button", name="Enregistrer mes disponibilités").click()
        page.wait_for_selector("#flash")
        assert "7 place(s)" in page.locator("#flash").inner_text()
        assert page.locator("#places").inner_text() == "7"
    db.rollback()
    doctor = db.scalars(select(Doctor).where(Doctor.rpps == demo_rpps(1))).one()  # the demo doctor's account
    assert doctor.capacity_remaining == 7


def test_a_coordinator_cannot_open_another_cptss_request(database_url, db, demo):
    require_browser()
    arras = db.scalars(select(PatientRequest.id).where(PatientRequest.territory.has(slug="grand-arras"))).first()
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size(LAPTOP)
        sign_in(page, base, "coordination@cpts-provence-sante.example.fr")
        response = page.goto(f"{base}/espace/demandes/{arras}")
        assert response.status == 404
        assert page.locator("h1").inner_text() == "Page introuvable"
        assert "Demande introuvable." in page.content()
        assert_accessible(page, "404")


def test_every_main_page_is_accessible_and_keyboard_usable(database_url, db, demo):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size({"width": 1024, "height": 768})  # a tablet
        page.goto(f"{base}/espace/connexion")
        assert_accessible(page, "sign-in")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
        page.keyboard.press("Tab")  # the service's name, a link home
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "email"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # the focus is visible
        page.keyboard.type("coordination@cpts-grand-arras.example.fr")
        page.keyboard.press("Tab")
        page.keyboard.type(DEMO_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/espace/demandes$"))
        doctor_id = db.scalars(select(Doctor.id).where(Doctor.territory.has(slug="grand-arras"))).first()
        for path in (
            "/espace/medecins",
            f"/espace/medecins/{doctor_id}",
            "/espace/medecins/import",
            "/espace/sources",
            "/espace/appels",
            "/espace/indicateurs?du=2020-01-01",
            "/espace/journal",
            "/espace/mes-demandes/nouvelle",
        ):
            page.goto(base + path)
            assert_accessible(page, path)
        page.goto(f"{base}/espace/indicateurs?du=2020-01-01")
        assert page.evaluate("Chart.getChart('chart-groups') !== undefined")  # drawn by Chart.js
        sign_in(page, base, "pharmacie.centrale@grand-arras.example.fr")
        assert_accessible(page, "professional's requests")

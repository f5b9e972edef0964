"""The coordination's daily tools in a real headless Chromium, at 390 px and on a laptop: a doctor
added through the form (a wrong RPPS key refused in French, then the right one accepted), the
printable request and the printable doctors' list, each checked by axe-core."""

import pytest
from sqlalchemy import select

from app.demo_people import demo_rpps
from app.doctors.models import Doctor
from app.requests.models import PatientRequest
from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _fill_doctor(page, rpps: str) -> None:
    page.get_by_label("RPPS (11 chiffres)").fill(rpps)
    page.get_by_label("Civilité").select_option("DR")
    page.get_by_label("Nom", exact=True).fill("Navarre")
    page.get_by_label("Prénom").fill("Julien")
    page.get_by_label("E-mail").fill("julien.navarre@example.fr")
    page.get_by_label("Adresse du cabinet").fill("14 rue Ernestale")
    page.get_by_label("Code postal").fill("62000")
    page.get_by_label("Commune", exact=True).fill("Arras")
    page.get_by_label("J'accepte de nouveaux patients").check()
    page.get_by_label("Places pour de nouveaux patients").fill("8")


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_a_doctor_added_through_the_form_and_the_printable_pages(database_url, db, demo, viewport):
    require_browser()
    rpps = demo_rpps(960 + viewport["width"] % 7)
    wrong = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)
    request_id = db.scalars(
        select(PatientRequest.id)
        .where(PatientRequest.territory.has(slug="grand-arras"), PatientRequest.status == "received")
        .order_by(PatientRequest.id)
    ).first()
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size(viewport)
        sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
        page.goto(f"{base}/espace/medecins")
        page.get_by_role("link", name="Inscrire un médecin").click()
        page.wait_for_selector("#doctor-new-form")
        assert_accessible(page, "the new doctor's form")

        _fill_doctor(page, wrong)
        page.get_by_role("button", name="Inscrire le médecin").click()
        page.wait_for_selector("#rpps-error")
        assert "la clé de contrôle ne correspond pas" in page.locator("#rpps-error").inner_text()
        assert page.get_by_label("Nom", exact=True).input_value() == "Navarre"  # kept as typed
        assert page.get_by_label("RPPS (11 chiffres)").get_attribute("aria-describedby") == "rpps-error"
        assert_accessible(page, "the form refused")

        page.get_by_label("RPPS (11 chiffres)").fill(rpps)
        page.get_by_role("button", name="Inscrire le médecin").click()
        page.wait_for_selector("#flash")
        assert "Fiche de Dr Julien Navarre créée" in page.locator("#flash").inner_text()
        assert_accessible(page, "the new doctor's page")

        page.goto(f"{base}/espace/medecins")
        page.get_by_role("link", name="Version imprimable de cette liste").click()
        page.wait_for_selector("#doctors-print")
        assert "Navarre" in page.locator("#doctors-print").inner_text()
        assert_accessible(page, "the printable doctors' list")

        page.goto(f"{base}/espace/demandes/{request_id}")
        page.get_by_role("link", name="Version imprimable").click()
        page.wait_for_selector("#h-answers")
        assert page.get_by_role("button", name="Imprimer").is_visible()  # print.js showed it
        assert_accessible(page, "the printable request")
        page.emulate_media(media="print")
        assert (
            not page.locator("header.top").is_visible() and not page.get_by_role("button", name="Imprimer").is_visible()
        )
        assert page.locator("#h-answers").is_visible()
    db.rollback()
    assert db.scalars(select(Doctor.rpps).where(Doctor.family_name == "Navarre")).all() == [rpps]

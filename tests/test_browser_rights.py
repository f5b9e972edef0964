"""A person's rights in a real Chromium: the coordinator finds a person by phone, downloads the
export, erases them, and the search then finds nothing personal; the patient erases their own
data from the follow-up link, on a phone. axe-core on each page."""

import json

import pytest

from app.requests.schemas import RequestCreate
from app.requests.service import submit_request
from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser

PHONE = "06 55 44 33 22"


def _request(db, geocoding, family_name: str, given_name: str) -> str:
    """A patient's request in the Grand Arras; its follow-up URL's path."""
    _, _, follow_up = submit_request(
        db,
        geocoding,
        None,
        RequestCreate(
            family_name=family_name,
            given_name=given_name,
            birth_date="1961-04-12",
            phone=PHONE,
            email="hortense.droit@example.fr",
            address="5 rue de Cambrai",
            postcode="62217",
            city="Tilloy-lès-Mofflaines",
            no_doctor_reason="doctor_left",
            comment="Je suis diabétique",
            consent=True,
            cpts="grand-arras",
        ),
        "http://test",
    )
    db.commit()  # services leave committing to the caller (a request's unit of work)
    return follow_up.removeprefix("http://test")


def test_a_coordinator_finds_a_person_by_phone_exports_and_erases_them(database_url, db, demo, geocoding):
    require_browser()
    _request(db, geocoding, "Droit", "Hortense")
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size(LAPTOP)
        sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
        page.get_by_role("link", name="Droits des personnes").click()
        page.wait_for_selector("form[role=search]")
        assert_accessible(page, "persons")

        page.get_by_label("Téléphone").fill(PHONE)
        page.get_by_role("button", name="Rechercher").click()
        page.wait_for_selector("#found-count")
        assert "DROIT Hortense" in page.locator("#person-requests").inner_text()
        assert "06 55 44 33 22" in page.locator("#person-requests").inner_text()
        assert_accessible(page, "persons found")

        # The right of access: the JSON file, then the printable page.
        with page.expect_download() as download:
            page.get_by_role("button", name="Fichier JSON").click()
        assert download.value.suggested_filename.startswith("donnees-personnelles-")
        exported = json.loads(download.value.path().read_text(encoding="utf-8"))
        assert [(r["family_name"], r["comment"]) for r in exported["requests"]] == [("Droit", "Je suis diabétique")]
        page.get_by_role("button", name="Page imprimable").click()
        page.wait_for_selector("text=Copie remise au titre du droit d'accès")
        assert "Je suis diabétique" in page.content()
        assert_accessible(page, "printable export")
        page.go_back()
        page.wait_for_selector("#erase")

        # Erasing needs the box ticked.
        page.get_by_role("button", name="Effacer maintenant").click()
        page.wait_for_selector("text=Cochez la case de confirmation")
        page.get_by_label("Je confirme l'effacement des données de cette personne").check()
        page.get_by_role("button", name="Effacer maintenant").click()
        page.wait_for_selector("#flash")
        assert page.locator("#flash").inner_text().startswith("Données effacées : 1 demande(s)")

        # The same search now finds nothing personal.
        page.get_by_label("Téléphone").fill(PHONE)
        page.get_by_role("button", name="Rechercher").click()
        page.wait_for_selector("#found-count")
        assert "Aucune donnée personnelle trouvée" in page.locator("#found-count").inner_text()
        page.get_by_label("Nom", exact=True).fill("Droit")
        page.get_by_label("Prénom").fill("Hortense")
        page.get_by_label("Date de naissance").fill("1961-04-12")
        page.get_by_label("Téléphone").fill("")
        page.get_by_role("button", name="Rechercher").click()
        page.wait_for_selector("#found-count")
        assert "Aucune donnée personnelle trouvée" in page.locator("#found-count").inner_text()
        results = page.locator("section[aria-labelledby=h-found]").inner_text()
        assert "Hortense" not in results and "55 44" not in results


def test_the_patient_erases_their_data_from_the_follow_up_link_on_a_phone(database_url, db, demo, geocoding):
    require_browser()
    follow_up = _request(db, geocoding, "Suivi", "Gaston")
    with running_server(database_url) as base, chromium_page() as page:  # 390 px wide
        page.goto(f"{base}{follow_up}")
        assert page.get_by_role("heading", level=1).inner_text() == "Bonjour Gaston"
        assert_accessible(page, "follow-up")

        page.get_by_role("button", name="Effacer mes données").click()
        page.wait_for_selector("text=seront effacés tout de suite et définitivement")
        assert_accessible(page, "erasure confirmation")
        page.get_by_role("button", name="Oui, effacer mes données").click()
        page.wait_for_selector("text=Vos données sont effacées")
        assert_accessible(page, "erased")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.goto(f"{base}{follow_up}")
        assert "Ce lien n'est pas valide" in page.content()

"""The questionnaire end to end in a real headless Chromium, as a patient on a phone."""

import pytest

from tests.browser import chromium_page, require_browser, running_server
from tests.factories import born

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_territories")]


def test_a_patient_fills_the_form_submits_and_follows_the_request(database_url, engine):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        page.goto(f"{base}/?cpts=grand-arras")
        assert "CPTS du Grand Arras" in page.content()
        page.get_by_label("Nom", exact=True).fill("Dupré")
        page.get_by_label("Prénom").fill("Anne")
        page.get_by_label("Date de naissance").fill(born(72))
        page.get_by_label("Téléphone", exact=True).fill("06 12 34 56 78")
        page.get_by_label("Numéro et rue").fill("5 rue de Cambrai")
        page.get_by_label("Code postal").fill("62217")
        # The commune is left empty: 62217 serves seven communes, the page asks which one.
        page.get_by_label("J'accepte que").check()
        page.get_by_role("button", name="Envoyer ma demande").click()
        assert "Merci de corriger" in page.content()
        page.get_by_label("Votre commune").select_option("Tilloy-lès-Mofflaines")
        page.get_by_label("Oui", exact=True).first.check()  # ALD
        page.get_by_role("button", name="Envoyer ma demande").click()
        page.wait_for_selector("#follow-up")
        assert "Demande envoyée" in page.content()
        assert "CPTS du Grand Arras" in page.locator("[role=status]").inner_text()
        page.click("#follow-up")
        page.wait_for_selector("h1")
        assert page.locator("h1").inner_text() == "Bonjour Anne"
        assert "Votre demande est enregistrée" in page.content()
        assert "/suivi/" in page.url


def test_the_form_is_usable_with_the_keyboard_alone(database_url, engine):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        page.goto(f"{base}/?cpts=grand-arras")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        assert focused in ("for_me", "for_relative")  # the honeypot is skipped
        page.focus("#family_name")
        page.keyboard.type("Dupré")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "given_name"

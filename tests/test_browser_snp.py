"""Unscheduled care in a real headless Chromium: the coordination books a slot for a caller
and cancels it; a SAS regulator arrives from the SAS with the link of the /fhir feed and books."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from app.snp.models import Booking, Slot
from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser


def book(page, family_name: str, given_name: str, phone: str, reason: str) -> None:
    """Fills the booking form, by its labels, and sends it."""
    page.get_by_label("Nom du patient").fill(family_name)
    page.get_by_label("Prénom").fill(given_name)
    page.get_by_label("Téléphone").fill(phone)
    page.get_by_label("Motif, en quelques mots").fill(reason)
    page.get_by_role("button", name="Réserver").click()


def test_the_coordination_books_a_slot_for_a_caller(database_url, db, demo_slots):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size(LAPTOP)
        sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
        page.get_by_role("link", name="Soins non programmés").click()
        page.wait_for_selector("#counts")
        assert_accessible(page, "board")
        page.get_by_role("link", name="Réserver pour un appelant").click()
        page.get_by_label("Code postal de l'appelant").fill("62000")
        page.get_by_label("Commune").fill("Arras")
        page.get_by_label("Dans les (heures)").fill("336")
        page.get_by_role("button", name="Chercher").click()
        page.wait_for_selector("#search-summary")
        assert_accessible(page, "search")
        assert "examiné(s)" in page.locator("#search-summary").inner_text()
        page.locator("#results a.button").first.click()
        page.wait_for_selector("#slot")
        assert_accessible(page, "booking form")
        book(page, "Martin", "Lucie", "06 12 34 56 78", "Fièvre depuis hier")
        page.wait_for_selector("#flash")
        assert "Rendez-vous réservé pour Lucie Martin" in page.locator("#flash").inner_text()
        assert page.locator("li.slot.booked", has_text="Lucie MARTIN").count() == 1
        # Cancel: the slot is free again.
        page.locator("li.slot.booked", has_text="Lucie MARTIN").get_by_role(
            "button", name=re.compile("Annuler")
        ).click()
        page.wait_for_selector("#flash")
        assert "annulé" in page.locator("#flash").inner_text()
    db.rollback()
    booking = db.scalars(select(Booking)).one()
    assert booking.status == "cancelled" and db.get(Slot, booking.slot_id).status == "free"


def test_a_regulator_arriving_from_the_sas_books(database_url, db, demo_slots):
    require_browser()
    slot = db.scalars(
        select(Slot).where(
            Slot.sas_visible.is_(True),
            Slot.status == "free",
            Slot.doctor_id.is_not(None),
            Slot.start_at > datetime.now(UTC) + timedelta(hours=1),
        )
    ).first()
    db.commit()
    # /fhir opened on purpose: the certificates are test_fhir_transport's.
    with running_server(database_url, {"ORIENTATION_FHIR_CLIENT_AUTH": "none"}) as base, chromium_page() as page:
        # The booking URL the feed puts in Slot.comment, signed for this slot.
        link = httpx.get(f"{base}/fhir/Slot/{slot.id}").json()["comment"]
        assert link.startswith(f"{base}/espace/soins-non-programmes/creneaux/{slot.id}/reserver?origin=sas&sas=")
        page.goto(link)
        page.get_by_label("Adresse e-mail").fill("regulation@sas62.example.fr")
        page.get_by_label("Mot de passe").fill("demo-orientation-2026")
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_selector("#slot")
        assert_accessible(page, "SAS booking form")
        book(page, "Bernard", "Paul", "06 98 76 54 32", "Douleur abdominale")
        page.wait_for_selector("#booked")
        assert "Rendez-vous réservé pour Paul Bernard" in page.locator("#booked").inner_text()
    db.rollback()
    booking = db.scalars(select(Booking).where(Booking.slot_id == slot.id)).one()
    assert booking.origin == "sas"

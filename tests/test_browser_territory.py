"""The territory page in a real Chromium, with the outbox worker delivering to a real SMTP
server on loopback: the coordinator sees the communes' boundaries and the GPs on the map
(without tiles), filters to the non-volunteers, invites one, and the invitation reaches the
doctor, whose link opens the sign-up page on a phone. axe-core on every page, at 390 px too."""

import re
import time

import pytest

from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in
from tests.factories import directory_practitioner
from tests.fakes.smtp import SmtpServer
from tests.helpers.workspace import COORDINATOR

pytestmark = pytest.mark.browser

INVITED = "dr.courriel@example.fr"


def _mail_to(smtp: SmtpServer, recipient: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.messages:
            if message["To"] == recipient:
                return message.get_content()
        time.sleep(0.2)
    raise AssertionError(f"no e-mail to {recipient}")


def _no_horizontal_scroll(page, where: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{where}: the page is {width} px wide"


def test_the_coordinator_maps_the_territory_and_invites_a_gp(database_url, db, demo):
    require_browser()
    directory_practitioner(db, "grand-arras", 1, family_name="Courriel", practices=[{"email": INVITED}])
    directory_practitioner(
        db,
        "grand-arras",
        2,
        family_name="Papier",
        practices=[
            {"address": "2 place de la Mairie", "postcode": "62217", "insee_code": "62099", "city": "Beaurains"}
        ],
    )
    db.commit()
    smtp = SmtpServer()
    smtp.start()
    env = {"ORIENTATION_SMTP_HOST": "127.0.0.1", "ORIENTATION_SMTP_PORT": str(smtp.port)}
    try:
        with running_server(database_url, env=env, args=("--with-worker",)) as base, chromium_page() as phone:
            page = phone.context.browser.new_page(viewport=LAPTOP, locale="fr-FR")
            sign_in(page, base, COORDINATOR)
            page.goto(f"{base}/espace/territoire")
            # No tiles (MAP_TILE_URL is empty in tests): the boundaries and the markers are drawn anyway.
            page.wait_for_selector("#territory-map path.commune")
            assert page.locator("#territory-map path.commune").count() == 32
            assert page.locator("#territory-map path.gp.volunteer").count() > 0
            assert page.locator("#territory-map path.gp.other").count() == 2
            assert page.locator("#territory-map img.leaflet-tile").count() == 0
            assert "Dr Claire Courriel" in page.locator("#gps").inner_text()
            assert page.locator("#coverage tbody tr").count() == 32
            assert_accessible(page, "the territory page")

            page.get_by_label("Médecins", exact=True).select_option("non-volontaires")
            page.get_by_role("button", name="Filtrer").click()
            page.wait_for_url(re.compile(r"voir=non-volontaires"))
            page.wait_for_selector("#territory-map path.gp")
            assert page.locator("#territory-map path.gp.volunteer").count() == 0
            assert page.locator("#territory-map path.gp.other").count() == 2
            rows = page.locator("#gps tbody tr")
            assert rows.count() == 2
            assert all(rows.nth(i).locator("td").nth(3).inner_text().startswith("non") for i in range(2))
            assert_accessible(page, "the territory page, non-volunteers")
            # On paper: the tables and the map, without the workspace's header, the filters, the buttons.
            page.emulate_media(media="print")
            assert page.locator("#coverage").is_visible() and page.locator("#territory-map").is_visible()
            assert not page.locator("header.top").is_visible() and not page.locator("form.filters").is_visible()
            assert not page.get_by_role("button", name="Inviter les médecins cochés").is_visible()
            page.emulate_media(media="screen")

            page.get_by_label("Inviter Dr Claire Courriel").check()
            page.get_by_role("button", name="Inviter les médecins cochés").click()
            page.wait_for_selector("#flash")
            assert f"Invitation envoyée par e-mail à {INVITED}" in page.locator("#flash").inner_text()
            assert "invité le" in page.locator("#gps tbody tr", has_text="Courriel").inner_text()

            body = _mail_to(smtp, INVITED)
            link = re.search(r"https?://\S+/medecins/devenir-volontaire/\S+", body).group(0)
            assert link.startswith(base)

            # The doctor opens it on its phone: the sign-up page, filled in from the directory.
            phone.goto(link)
            assert phone.get_by_label("Numéro RPPS (11 chiffres)").input_value().startswith("1000005")
            assert phone.get_by_label("Nom", exact=True).input_value() == "Courriel"
            assert_accessible(phone, "the sign-up page at 390 px")
            _no_horizontal_scroll(phone, "the sign-up page")

            # And the territory page itself on a phone.
            sign_in(phone, base, COORDINATOR)
            phone.goto(f"{base}/espace/territoire")
            phone.wait_for_selector("#territory-map path.commune")
            assert_accessible(phone, "the territory page at 390 px")
            _no_horizontal_scroll(phone, "the territory page")
    finally:
        smtp.stop()

"""Issue 12 in a real Chromium: the map's markers carry the list's numbers, the duplicate's
flag and merge action on the queue and the request page, all accessible (axe-core)."""

import pytest

from app.requests.schemas import RequestCreate
from app.requests.service import submit_request
from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser


def _submit(db, geocoding, family_name: str) -> int:
    created, _, _ = submit_request(
        db,
        geocoding,
        None,
        RequestCreate(
            family_name=family_name,
            given_name="Yvette",
            birth_date="1961-04-12",
            phone="06 98 76 54 31",
            postcode="62000",
            city="Arras",
            no_doctor_reason="moved_in",
            consent=True,
            cpts="grand-arras",
        ),
        "http://test",
    )
    db.commit()  # services leave committing to the caller (a request's unit of work)
    return created.id


def test_numbered_markers_and_a_flagged_duplicate_merged(database_url, db, demo, geocoding):
    require_browser()
    original = _submit(db, geocoding, "Quentin")
    duplicate = _submit(db, geocoding, "Quantin")  # a typo: same phone and birth date
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size(LAPTOP)
        sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
        page.goto(f"{base}/espace/demandes?q=yvette")
        rows = page.locator("#queue tbody tr")
        assert rows.count() == 1 and "possible doublon" in rows.first.inner_text()
        assert_accessible(page, "queue with a possible duplicate")

        rows.first.get_by_role("link").click()
        page.wait_for_selector("#suggestions")
        listed = page.locator("#suggestions label").all_inner_texts()  # "1. Dr …"
        markers = page.locator(".leaflet-marker-icon.map-number")
        assert markers.count() >= 2
        for i in range(markers.count()):
            number, title = markers.nth(i).inner_text(), markers.nth(i).get_attribute("title")
            assert title == listed[int(number) - 1]
        assert page.locator("#match-doctor").count() == 0 or page.locator("#match-doctor").input_value() == ""
        assert_accessible(page, "request with its possible duplicate")

        page.get_by_role("button", name=f"Fusionner la demande n° {duplicate} dans la n° {original}").click()
        page.wait_for_selector("#flash")
        assert page.url.endswith(f"/espace/demandes/{original}")
        assert "aucun message" in page.locator("#flash").inner_text()
        assert page.locator("#possible-duplicates").count() == 0

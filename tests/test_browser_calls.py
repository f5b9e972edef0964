"""In a real headless Chromium: the coordination logs a call in two clicks and records a passage
without a booking in two clicks, on pages axe-core finds clean, at a phone's width too."""

import re

import pytest
from sqlalchemy import select

from app.calls.models import PhoneCall
from app.snp.models import WalkIn
from tests.browser import assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser


def test_a_call_and_a_walk_in_each_take_two_clicks(database_url, db, demo_slots):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
        page.goto(f"{base}/espace/appels")
        assert_accessible(page, "calls")
        page.get_by_label("Soins non programmés").check()  # 1: why (who: "patient" already)
        page.get_by_role("button", name="Créneau réservé").click()  # 2: how it ended, and logged
        page.wait_for_url(re.compile(r".*/espace/appels$"))
        assert page.locator("#flash").inner_text() == "Appel noté : patient, soins non programmés, créneau réservé."
        assert "1 appel" in page.locator("#h-calls-today").inner_text()

        page.goto(f"{base}/espace/demandes")
        assert_accessible(page, "queue with the call form")
        page.goto(f"{base}/espace/soins-non-programmes")
        assert_accessible(page, "board with the walk-in form")
        form = page.locator("form.walk-in")
        form.get_by_label("70 ans et plus").check()  # 1: the age band (the centre is the first choice)
        form.get_by_role("button", name="Non").click()  # 2: no médecin traitant, and recorded
        page.wait_for_load_state()
        assert page.locator("#flash").inner_text() == (
            "Passage sans rendez-vous enregistré : 70 ans et plus, médecin traitant : non."
        )
        page.goto(f"{base}/espace/indicateurs?du=2020-01-01")
        assert_accessible(page, "indicators with the CSNP report and the calls")
        assert page.locator("#csnp-report").is_visible()
    db.rollback()
    assert [(c.reason, c.outcome) for c in db.scalars(select(PhoneCall))] == [("unscheduled", "booked")]
    walk_in = db.scalars(select(WalkIn)).one()
    assert (walk_in.centre_id is not None, walk_in.age_band, walk_in.has_doctor) == (True, "70+", "no")

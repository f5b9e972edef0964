"""Pro Santé Connect in a real headless Chromium: a doctor known by its RPPS clicks the button,
goes through the test's OpenID provider on loopback (tests/fakes/psc.py, which consents at
once) and lands on its own page; a refused return shows the sign-in page with its reason."""

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.doctors.models import Doctor
from tests.browser import assert_accessible, chromium_page, require_browser, running_server
from tests.fakes.psc import FakePsc

pytestmark = pytest.mark.browser


def test_a_doctor_signs_in_with_pro_sante_connect_and_lands_on_its_own_page(database_url, db, demo):
    require_browser()
    user = db.scalars(select(User).where(User.email == "docteur@grand-arras.example.fr")).one()
    doctor = db.get_one(Doctor, user.doctor_id)
    db.commit()
    with (
        FakePsc(national_id="8" + doctor.rpps) as fake,
        running_server(database_url, env=fake.env()) as base,
        chromium_page() as page,
    ):
        page.goto(f"{base}/espace/connexion")
        assert_accessible(page, "sign-in page with the PSC button")
        page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
        page.wait_for_url(f"{base}/espace/mon-cabinet")
        assert doctor.family_name.upper() in page.locator("main").inner_text().upper()
        assert_accessible(page, "the doctor's page after PSC")
        assert len(fake.authorizations) == 1 and fake.authorizations[0]["code_challenge_method"] == "S256"

        # Signed out, then a provider whose ID token carries another nonce: refused, in French.
        page.context.clear_cookies()
        fake.fail = "wrong_nonce"
        page.goto(f"{base}/espace/connexion")
        page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
        page.wait_for_url(f"{base}/espace/connexion/psc/retour*")
        assert "n'a pas pu être vérifiée" in page.locator("#sign-in-error").inner_text()
        assert_accessible(page, "sign-in page after a refused PSC return")
        assert not [c for c in page.context.cookies() if c["name"] == "orientation_session"]

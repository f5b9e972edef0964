"""Accounts in a real Chromium, with the outbox worker delivering to a real SMTP server on
loopback: a coordinator invites a pharmacist, who chooses a password from the e-mail, signs
in and submits a request; later resets a forgotten password; the coordinator deactivates the
account and the pharmacist's open session stops working. Then the second factor's pages.
axe-core on every new page."""

import re
import time

import pyotp
import pytest

from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in
from tests.factories import born
from tests.fakes.smtp import SmtpServer
from tests.helpers.workspace import COORDINATOR

pytestmark = pytest.mark.browser

PHARMACIST = "officine.beffroi@example.fr"
FIRST_PASSWORD = "mon premier mot de passe"
SECOND_PASSWORD = "mon second mot de passe"


def _mail_to(smtp: SmtpServer, recipient: str, count: int, timeout: float = 30) -> str:
    """The body of the `count`-th e-mail to `recipient`, once the worker has delivered it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bodies = [m.get_content() for m in smtp.messages if m["To"] == recipient]
        if len(bodies) >= count:
            return bodies[count - 1]
        time.sleep(0.2)
    raise AssertionError(f"no e-mail #{count} to {recipient}")


def _link(body: str, base: str) -> str:
    link = re.search(r"https?://\S+/comptes/\S+", body).group(0)
    assert link.startswith(base + "/comptes/")
    return link


def _sign_in_with(page, base: str, email: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/espace/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def _choose_password(page, link: str, password: str, where: str) -> None:
    page.goto(link)
    assert_accessible(page, where)
    page.get_by_label("Nouveau mot de passe").fill(password)
    page.get_by_label("Le même, une seconde fois").fill(password)
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    page.wait_for_selector("[role=status]")
    assert "Votre mot de passe est enregistré" in page.locator("[role=status]").inner_text()
    assert_accessible(page, f"{where}, done")


def test_a_pharmacist_invited_resets_its_password_and_is_deactivated(database_url, db, demo, tmp_path):
    require_browser()
    smtp = SmtpServer()
    smtp.start()
    env = {
        "ORIENTATION_SMTP_HOST": "127.0.0.1",
        "ORIENTATION_SMTP_PORT": str(smtp.port),
        "ORIENTATION_SMS_FILE": str(tmp_path / "sms.log"),
    }
    try:
        with running_server(database_url, env=env, args=("--with-worker",)) as base, chromium_page() as page:
            coordination = page.context.browser.new_page(viewport=LAPTOP, locale="fr-FR")
            sign_in(coordination, base, COORDINATOR)
            coordination.goto(f"{base}/espace/comptes")
            assert_accessible(coordination, "accounts")
            coordination.get_by_label("Nom affiché").fill("Officine du Beffroi")
            coordination.get_by_label("Adresse e-mail").fill(PHARMACIST)
            coordination.get_by_label("Rôle").select_option("professional")
            coordination.get_by_label("Organisation (professionnel)").select_option(label="Pharmacie centrale d'Arras")
            coordination.get_by_role("button", name="Envoyer l'invitation").click()
            coordination.wait_for_selector("#flash")
            assert f"Invitation envoyée à {PHARMACIST}" in coordination.locator("#flash").inner_text()
            row = coordination.locator("#accounts tbody tr", has_text=PHARMACIST)
            assert "invité" in row.inner_text()
            row.get_by_role("link", name="Officine du Beffroi").click()
            assert_accessible(coordination, "an account")

            # The invitation arrives by e-mail; its link chooses the password, once.
            invitation = _link(_mail_to(smtp, PHARMACIST, 1), base)
            _choose_password(page, invitation, FIRST_PASSWORD, "invitation")
            page.goto(invitation)
            assert page.locator("h1").inner_text() == "Ce lien n'est pas valide"
            assert_accessible(page, "a spent link")

            # Signs in and submits a request, credited to its pharmacy.
            _sign_in_with(page, base, PHARMACIST, FIRST_PASSWORD)
            assert page.url.endswith("/espace/mes-demandes")
            page.goto(f"{base}/espace/mes-demandes/nouvelle")
            page.get_by_label("Nom", exact=True).fill("Lenoir")
            page.get_by_label("Prénom").fill("Jeanne")
            page.get_by_label("Date de naissance").fill(born(75))
            page.get_by_label("Téléphone", exact=True).fill("06 12 34 56 70")
            page.get_by_label("Code postal").fill("62000")
            page.get_by_label("Commune", exact=True).fill("Arras")
            page.get_by_label("J'atteste que le patient").check()
            page.get_by_role("button", name="Envoyer la demande").click()
            page.wait_for_url(re.compile(r"/espace/mes-demandes"))
            assert "Demande de Jeanne LENOIR enregistrée" in page.content()
            page.goto(f"{base}/espace/mon-compte")
            assert_accessible(page, "my account")

            # Later: "Mot de passe oublié".
            page.context.clear_cookies()
            page.goto(f"{base}/espace/connexion")
            page.get_by_role("link", name="Mot de passe oublié").click()
            assert_accessible(page, "forgotten password")
            page.get_by_label("Adresse e-mail de votre compte").fill(PHARMACIST)
            page.get_by_role("button", name="Recevoir un lien").click()
            page.wait_for_selector("#forgotten-sent")
            assert_accessible(page, "forgotten password, sent")
            reset = _link(_mail_to(smtp, PHARMACIST, 2), base)
            assert "/comptes/reinitialisation/" in reset
            _choose_password(page, reset, SECOND_PASSWORD, "reset")
            _sign_in_with(page, base, PHARMACIST, FIRST_PASSWORD)
            assert "/espace/connexion" in page.url  # the old one no longer works
            _sign_in_with(page, base, PHARMACIST, SECOND_PASSWORD)
            assert page.url.endswith("/espace/mes-demandes")

            # The coordinator deactivates the account: the pharmacist's open session stops.
            coordination.goto(f"{base}/espace/comptes")
            coordination.locator("#accounts tbody tr", has_text=PHARMACIST).get_by_role(
                "button", name="Désactiver"
            ).click()
            coordination.wait_for_selector("#flash")
            assert "désactivé" in coordination.locator("#flash").inner_text()
            page.goto(f"{base}/espace/mes-demandes")
            assert "/espace/connexion" in page.url
            assert "Votre session a expiré" in page.content()
    finally:
        smtp.stop()


def test_the_second_factors_pages(database_url, db, demo):
    require_browser()
    env = {"ORIENTATION_REQUIRE_SECOND_FACTOR": "1"}
    with running_server(database_url, env=env) as base, chromium_page() as page:
        sign_in(page, base, COORDINATOR)
        assert "/espace/second-facteur/activation" in page.url
        assert_accessible(page, "enrolment")
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code affiché par l'application").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Activer").click()
        page.wait_for_selector("#recovery-codes")
        assert page.locator("#recovery-codes li").count() == 10
        assert_accessible(page, "recovery codes")
        page.get_by_role("link", name="Continuer").click()
        assert page.url.endswith("/espace/demandes")

        sign_in(page, base, COORDINATOR)
        assert "/espace/second-facteur" in page.url
        assert_accessible(page, "second factor")
        page.get_by_label("Code").fill("000000")
        page.get_by_role("button", name="Valider").click()
        assert "Code incorrect" in page.locator("#code-error").inner_text()
        assert_accessible(page, "second factor, wrong code")

"""Issue 12, "Patients first", in a real Chromium on a 390 px phone: a landline patient, a
postcode-only patient who must choose the commune, a pharmacist's submission credited to the
pharmacy with its receipt delivered by SMS, axe-core at 390 and 1280 px, and a server on
another port without PUBLIC_URL whose every link handed out works."""

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.browser import assert_accessible, chromium_page, require_browser, running_server, sign_in
from tests.factories import born
from tests.helpers.workspace import COORDINATOR, PROFESSIONAL

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo")]
LAPTOP = {"width": 1280, "height": 900}


def _served(database_url: str, tmp_path: Path):
    """`orientation serve` on a free port, PUBLIC_URL unset, delivering messages to files."""
    env = {
        "ORIENTATION_PUBLIC_URL": "",  # links from the address the server answers on
        "ORIENTATION_SMS_FILE": str(tmp_path / "sms.log"),
        "ORIENTATION_MAIL_FILE": str(tmp_path / "mail.log"),
    }
    return running_server(database_url, env=env, args=("--with-worker",))


def _lines(path: Path, needle: str, to: str | None = None, timeout: float = 30) -> list[dict]:
    """The messages of a log file that mention `needle` (sent `to`), once the worker has written
    them (the demo's own requests have their receipts too)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        if path.exists():
            found = [
                m
                for m in map(json.loads, path.read_text(encoding="utf-8").splitlines())
                if needle in m["text"] and to in (None, m["to"])
            ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def _identity(page, family: str, given: str, age: int) -> None:
    page.get_by_label("Nom", exact=True).fill(family)
    page.get_by_label("Prénom").fill(given)
    page.get_by_label("Date de naissance").fill(born(age))


def test_a_landline_patient_is_registered_and_the_coordination_is_told_to_call(database_url, tmp_path):
    require_browser()
    with _served(database_url, tmp_path) as base, chromium_page() as page:
        page.goto(f"{base}/?cpts=grand-arras")
        _identity(page, "Caron", "Marcel", 78)
        page.get_by_label("Téléphone", exact=True).fill("03 21 55 66 77")
        page.get_by_label("Code postal").fill("62000")
        page.get_by_label("Commune", exact=True).fill("Arras")
        page.get_by_label("J'accepte que").check()
        # SMS chosen for a landline: refused, and the page says why, in French.
        page.get_by_label("SMS (portable seulement)").check()
        page.get_by_role("button", name="Envoyer ma demande").click()
        alert = page.get_by_role("alert").inner_text()
        assert "Être contacté par SMS : ce numéro est un fixe" in alert
        assert page.get_by_label("Téléphone", exact=True).input_value() == "03 21 55 66 77"  # kept
        page.get_by_label("Appel téléphonique").check()
        page.get_by_role("button", name="Envoyer ma demande").click()
        page.wait_for_selector("#follow-up")
        assert "Demande envoyée" in page.content()
        sign_in(page, base, COORDINATOR)
        page.goto(f"{base}/espace/demandes?q=Caron")
        row = page.locator("#queue tbody tr", has_text="CARON Marcel")
        assert "à appeler" in row.inner_text()


def test_a_postcode_alone_makes_the_patient_choose_the_commune(database_url, tmp_path):
    require_browser()
    with _served(database_url, tmp_path) as base, chromium_page() as page:
        page.goto(f"{base}/?cpts=grand-arras")
        _identity(page, "Dupré", "Anne", 45)
        page.get_by_label("Téléphone", exact=True).fill("06 12 34 56 78")
        page.get_by_label("Code postal").fill("62217")
        page.get_by_label("J'accepte que").check()
        page.get_by_role("button", name="Envoyer ma demande").click()
        commune = page.get_by_label("Votre commune")
        assert commune.input_value() == ""  # none chosen for the patient
        assert commune.evaluate("s => s.options.length") == 8
        assert_accessible(page, "the list of communes, at 390 px")
        # Sent again without choosing: refused again, with a French error tied to the list.
        page.get_by_role("button", name="Envoyer ma demande").click()
        commune = page.get_by_label("Votre commune")
        assert commune.get_attribute("aria-describedby") == "city-error"
        assert "indiquez la vôtre" in page.locator("#city-error").inner_text()
        commune.select_option("Tilloy-lès-Mofflaines")
        page.get_by_role("button", name="Envoyer ma demande").click()
        page.wait_for_selector("#follow-up")
        assert "CPTS du Grand Arras" in page.locator("[role=status]").inner_text()
        [receipt] = _lines(tmp_path / "sms.log", "/suivi/", to="+33612345678")
        assert "CPTS du Grand Arras" in receipt["text"]


def test_a_pharmacists_submission_is_credited_to_the_pharmacy_with_a_receipt(database_url, tmp_path):
    require_browser()
    with _served(database_url, tmp_path) as base, chromium_page() as page:
        sign_in(page, base, PROFESSIONAL)
        page.goto(f"{base}/espace/mes-demandes/nouvelle")
        _identity(page, "Lefebvre", "Paul", 81)
        page.get_by_label("Téléphone", exact=True).fill("06 11 22 33 44")
        page.get_by_label("Code postal").fill("62217")
        page.get_by_label("Commune", exact=True).fill("Tilloy-lès-Mofflaines")
        page.get_by_label("J'atteste que le patient").check()
        page.get_by_role("button", name="Envoyer la demande").click()
        page.wait_for_url(re.compile(r"/espace/mes-demandes"))
        assert "Demande de Paul LEFEBVRE enregistrée" in page.content()
        # The receipt reaches the patient's mobile, naming the pharmacy, with a link that works.
        [sms] = _lines(tmp_path / "sms.log", "Pharmacie centrale d'Arras")
        assert sms["to"] == "+33611223344"
        link = re.search(r"https?://\S+/suivi/\S+", sms["text"]).group(0)
        assert link.startswith(base + "/suivi/")
        page.goto(link)
        assert page.locator("h1").inner_text() == "Bonjour Paul"
        # The coordination sees the pharmacy as the source, in the queue and on the request.
        sign_in(page, base, COORDINATOR)
        page.goto(f"{base}/espace/demandes?q=Lefebvre")
        row = page.locator("#queue tbody tr", has_text="LEFEBVRE Paul")
        assert "Pharmacie centrale d'Arras" in row.inner_text()
        row.get_by_role("link").click()
        assert "Pharmacie centrale d'Arras" in page.content()
        assert "formulaire direct" not in page.content()


def test_the_public_form_passes_axe_at_390_and_1280_px_with_radios_on_their_labels_line(database_url, tmp_path):
    require_browser()
    with _served(database_url, tmp_path) as base, chromium_page() as page:
        for viewport in ({"width": 390, "height": 844}, LAPTOP):
            page.set_viewport_size(viewport)
            page.goto(f"{base}/?cpts=grand-arras")
            assert_accessible(page, f"the questionnaire at {viewport['width']} px")
            for radio in ("#ald_yes", "#css_unknown", "#ch_phone", "#mob_home", "#for_relative"):
                box = page.locator(radio).bounding_box()
                label = page.locator(f"label[for={radio[1:]}]").bounding_box()
                assert box["width"] < 40, radio  # not stretched over the whole line
                assert label["x"] > box["x"] and label["y"] < box["y"] + box["height"], radio  # beside it
            # Every error in French, naming its field and what is expected.
            page.get_by_role("button", name="Envoyer ma demande").click()
            alert = page.get_by_role("alert").inner_text()
            for expected in (
                "Nom : à remplir.",
                "Prénom : à remplir.",
                "Date de naissance : à remplir.",
                "Téléphone :",
            ):
                assert expected in alert, expected
            assert "Input should" not in alert and "Texte attendu" not in alert
            assert_accessible(page, f"the questionnaire's errors at {viewport['width']} px")


def test_on_another_port_without_public_url_every_link_handed_out_works(database_url, tmp_path):
    require_browser()
    with _served(database_url, tmp_path) as base, chromium_page() as page:
        assert not base.endswith(":8000")
        # The follow-up link shown after submission.
        page.goto(f"{base}/?cpts=grand-arras")
        _identity(page, "Morel", "Lucie", 33)
        page.get_by_label("Téléphone", exact=True).fill("06 98 76 54 32")
        page.get_by_label("Code postal").fill("62000")
        page.get_by_label("Commune", exact=True).fill("Arras")
        page.get_by_label("J'accepte que").check()
        page.get_by_role("button", name="Envoyer ma demande").click()
        follow_up = page.locator("#follow-up").get_attribute("href")
        assert follow_up.startswith(base + "/suivi/")
        assert httpx.get(follow_up).status_code == 200
        # The sources' form links (QR codes, flyers) and the doctors' confirmation links.
        sign_in(page, base, COORDINATOR)
        page.goto(f"{base}/espace/sources")
        urls = set(re.findall(r"https?://[^\s\"<]+\?source=[\w-]+", page.content()))
        assert urls and all(u.startswith(base + "/?source=") for u in urls)
        for url in urls:
            assert "Vous n'avez pas de médecin traitant" in httpx.get(url).text
        source_id = re.search(r"/api/v1/sources/(\d+)/flyer", page.content()).group(1)
        page.goto(f"{base}/api/v1/sources/{source_id}/flyer")
        assert base + "/?source=" in page.content()
        page.goto(f"{base}/espace/medecins")
        page.get_by_role("button", name="Envoyer l'e-mail de confirmation à tous").click()
        page.wait_for_load_state()
        [mail, *_] = _lines(tmp_path / "mail.log", "/medecins/confirmer/") or [None]
        assert mail is not None, "no confirmation e-mail written"
        link = re.search(r"https?://\S+/medecins/confirmer/\S+", mail["text"]).group(0)
        assert link.startswith(base + "/medecins/confirmer/")
        page.goto(link)
        assert page.locator("h1").count() == 1 and "introuvable" not in page.content()

"""The national directory's page in a real headless Chromium, at 390 px: the coordinator uploads
the RPPS extraction, reads the report, and the page passes axe-core before and after."""

from pathlib import Path

import pytest

from tests.browser import assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser
SAMPLE = Path(__file__).parent / "data" / "annuaire-sante-extrait.txt"


def test_the_coordinator_uploads_the_directory_and_reads_its_report(database_url, demo, tmp_path):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
        page.goto(f"{base}/espace/annuaire")
        assert_accessible(page, "the directory's page")
        page.get_by_label("Fichier de l'Annuaire Santé").set_input_files(str(SAMPLE))
        page.get_by_role("button", name="Importer").click()
        page.wait_for_selector("#report")
        report = page.locator("#report").inner_text()
        assert "7 médecin(s) ajouté(s)" in report and "2 ligne(s) illisible(s)" in report
        assert "10000005016" in report and "MARTIN" not in report
        assert "annuaire-sante-extrait.txt" in page.locator("#imports").inner_text()
        assert_accessible(page, "the directory's report")
        page.screenshot(path=str(tmp_path / "annuaire.png"), full_page=True)
        Path("/tmp/annuaire-page.png").write_bytes((tmp_path / "annuaire.png").read_bytes())

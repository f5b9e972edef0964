"""Screenshots of the workspace's main pages for the README (docs/screenshots/*.png).

Builds the demo in a throwaway SQLite database, serves it on loopback (no map tiles: nothing
is fetched from the internet) and drives Debian's Chromium with Playwright.

Run: python scripts/screenshots.py   (needs the test extra: playwright; and /usr/bin/chromium)"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import update  # noqa: E402

from app.core import migrations  # noqa: E402
from app.core.database import utcnow  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.demo import load_demo  # noqa: E402
from app.demo_people import DEMO_PASSWORD, load_demo_accounts, load_demo_doctors, load_demo_requests  # noqa: E402
from app.main import create_app  # noqa: E402
from app.requests.models import PatientRequest  # noqa: E402
from app.requests.schemas import RequestCreate  # noqa: E402
from app.requests.service import submit_request  # noqa: E402
from app.territories.communes import get_commune_index  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def build_demo(url: str) -> int:
    migrations.upgrade("head", database_url=url)
    app = create_app(Settings(database_url=url, secret_key="screenshots"))
    communes = get_commune_index()
    with app.state.write_sessions() as session:
        load_demo(session, communes)
        load_demo_doctors(session, app.state.geocoding, communes)
        load_demo_requests(session, app.state.geocoding, communes)
        load_demo_accounts(session)
        from app.snp.demo import load_demo_regulator, load_demo_slots

        load_demo_slots(session, app.state.geocoding)
        load_demo_regulator(session)
        today = utcnow().date()
        created, _, _ = submit_request(
            session,
            app.state.geocoding,
            None,
            RequestCreate(
                family_name="Lemoine",
                given_name="Odette",
                birth_date=today.replace(year=today.year - 81, day=1),
                phone="06 98 76 54 32",
                email="odette.lemoine@example.fr",
                address="5 rue de Cambrai",
                postcode="62000",
                city="Arras",
                ald=True,
                css_or_ame="yes",
                no_doctor_reason="doctor_left",
                preferred_channel="email",
                consent=True,
                cpts="grand-arras",
            ),
            "http://127.0.0.1",
        )
        session.execute(
            update(PatientRequest)
            .where(PatientRequest.id == created.id)
            .values(created_at=utcnow() - timedelta(days=12))
        )
        session.commit()
    app.state.engine.dispose()
    return created.id


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tempfile.mkdtemp()}/screenshots.sqlite3"
    request_id = build_demo(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ORIENTATION_DATABASE_URL": url,
        "ORIENTATION_MAP_TILE_URL": "",
        "ORIENTATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="fr-FR")

            def shot(name: str, path: str | None = None, full: bool = True) -> None:
                if path:
                    page.goto(base + path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
                print(f"docs/screenshots/{name}.png")

            def sign_in(email: str) -> None:
                page.context.clear_cookies()
                page.goto(f"{base}/espace/connexion")
                page.get_by_label("Adresse e-mail").fill(email)
                page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
                page.get_by_role("button", name="Se connecter").click()
                page.wait_for_load_state()

            page.goto(f"{base}/espace/connexion")
            shot("01-connexion", full=False)
            sign_in("coordination@cpts-grand-arras.example.fr")
            shot("02-file-d-attente")
            page.goto(f"{base}/espace/demandes/{request_id}")
            page.get_by_role("button", name="Aperçu du message").click()
            shot("03-demande")
            shot("04-medecins", "/espace/medecins")
            shot("05-indicateurs", "/espace/indicateurs?du=2020-01-01")
            shot("06-sources", "/espace/sources")
            shot("07-journal", "/espace/journal", full=False)
            tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
            shot("10-soins-non-programmes", f"/espace/soins-non-programmes?jour={tomorrow}", full=False)
            shot(
                "11-recherche-creneau",
                "/espace/soins-non-programmes/recherche?code_postal=62000&commune=Arras",
                full=False,
            )
            shot("12-territoire", "/espace/territoire", full=False)
            sign_in("docteur@grand-arras.example.fr")
            shot("08-mon-cabinet")
            sign_in("pharmacie.centrale@grand-arras.example.fr")
            shot("09-nouvelle-demande", "/espace/mes-demandes/nouvelle", full=False)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()

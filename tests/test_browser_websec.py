"""The Content-Security-Policy in a real Chromium: the main pages run under it without a
single violation (their scripts, styles, map tiles and charts all allowed), and it does stop
what it is there to stop."""

import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.demo_people import DEMO_PASSWORD
from app.requests.models import PatientRequest
from tests.browser import LAPTOP, chromium_page, require_browser, running_server

pytestmark = pytest.mark.browser


def _png() -> bytes:
    """A 1×1 grey PNG: what the tile server answers for every tile."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")
    )


TILE = _png()
# Registered before any page script runs: every violation the browser reports is kept.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


class TileServer(ThreadingHTTPServer):
    """A tile server on another origin (another port of loopback), counting what it serves."""

    def __init__(self) -> None:
        self.served = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.served += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(TILE)))
                self.end_headers()
                self.wfile.write(TILE)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> "TileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


def watch(page) -> list[str]:
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(LISTEN)
    return console


def violations(page, console: list[str]) -> list[str]:
    """What the current page was refused (the console's reports are taken, once)."""
    found = console + page.evaluate("window.__violations")
    console.clear()
    return found


def test_the_main_pages_run_under_the_policy_without_a_violation(database_url, db, demo_slots):
    require_browser()
    request_id = db.scalars(
        select(PatientRequest.id).where(PatientRequest.territory.has(slug="grand-arras")).order_by(PatientRequest.id)
    ).first()
    with TileServer() as tiles:
        env = {"ORIENTATION_MAP_TILE_URL": f"http://127.0.0.1:{tiles.server_port}/{{z}}/{{x}}/{{y}}.png"}
        with running_server(database_url, env=env) as base, chromium_page() as page:
            console = watch(page)
            seen = {}
            page.goto(f"{base}/?cpts=grand-arras")  # the questionnaire, on a phone
            assert page.get_by_role("button").count() >= 1
            seen["questionnaire"] = violations(page, console)
            page.set_viewport_size(LAPTOP)
            page.goto(f"{base}/espace/connexion")
            seen["sign-in"] = violations(page, console)
            page.get_by_label("Adresse e-mail").fill("coordination@cpts-grand-arras.example.fr")
            page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.wait_for_url(f"{base}/espace/demandes")
            seen["queue"] = violations(page, console)

            page.goto(f"{base}/espace/demandes/{request_id}")
            page.wait_for_selector(".leaflet-marker-icon, .leaflet-interactive")
            page.wait_for_function("document.querySelectorAll('img.leaflet-tile-loaded').length > 0")
            assert tiles.served > 0  # the tiles' origin is allowed, and used
            seen["request and its map"] = violations(page, console)

            page.goto(f"{base}/espace/indicateurs?du=2020-01-01")
            assert page.evaluate("Chart.getChart('chart-groups') !== undefined")  # drawn by Chart.js
            seen["indicators and charts"] = violations(page, console)

            page.goto(f"{base}/espace/soins-non-programmes")
            seen["unscheduled-care board"] = violations(page, console)
            page.goto(f"{base}/espace/sources")
            seen["sources"] = violations(page, console)
            assert {where: found for where, found in seen.items() if found} == {}

            # The policy is enforced, not decorative: an inline script injected into a page is refused.
            page.evaluate("""() => {
                const s = document.createElement("script");
                s.textContent = "window.__injected = true";
                document.body.appendChild(s);
            }""")
            assert page.evaluate("window.__injected === undefined")
            assert any("script-src" in v for v in violations(page, console))

"""A real server on loopback and Debian's Chromium driven by Playwright, for browser tests."""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from app.demo_people import DEMO_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ORIENTATION = str(Path(sys.executable).parent / "orientation")
CHECKOUT = str(Path(__file__).resolve().parent.parent)  # the server runs this checkout's code
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
LAPTOP = {"width": 1280, "height": 900}


def require_browser() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("ORIENTATION_REQUIRE_BROWSER") == "1":
            pytest.fail("ORIENTATION_REQUIRE_BROWSER=1 but Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


@contextmanager
def running_server(
    database_url: str,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    tls: ssl.SSLContext | None = None,
    output: IO[bytes] | None = None,
) -> Iterator[str]:
    """`orientation serve` on a free port; with `tls` (the client's context), over HTTPS;
    its stdout and stderr written to `output` when given."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pythonpath = os.pathsep.join(p for p in (CHECKOUT, os.environ.get("PYTHONPATH", "")) if p)
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "ORIENTATION_DATABASE_URL": database_url,
        "ORIENTATION_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # No test reaches the internet: no map tiles (the markers and the list still show).
        "ORIENTATION_MAP_TILE_URL": "",
        # A worker started with the server would e-mail the coordinators last week's digest at
        # once: the tests that count the e-mails of a flow want that flow's only
        # (tests/test_weekly_digest.py tests the digest).
        "ORIENTATION_WEEKLY_DIGEST": "false",
        # Nor, from mid-December, the year's satisfaction questionnaire to the demo's matched
        # patients (tests/test_follow_up_outcomes.py tests it, its clock moved).
        "ORIENTATION_SATISFACTION_DATE": "",
        **(env or {}),
    }
    server = subprocess.Popen(
        [ORIENTATION, "serve", "--port", str(port), *args],
        env=env,
        stdout=output or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
    )
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a loaded machine (CI, shared cores) takes its time
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1, verify=tls or True)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def chromium_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")  # a phone
            yield page
        finally:
            browser.close()


def assert_accessible(page, where: str) -> None:
    """axe-core, run in the page: no violation at all, whatever its impact."""
    # Evaluated by the test's driver, not added as an inline <script>: the page's policy
    # (Content-Security-Policy, script-src 'self') refuses those, as it should.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    violations = page.evaluate("""async () => {
        const results = await axe.run(document, {resultTypes: ["violations"]});
        return results.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    assert violations == [], f"{where}: {violations}"


def sign_in(page, base: str, email: str) -> None:
    """Signs in through the sign-in page, as a person would, with the demo's password."""
    page.context.clear_cookies()
    page.goto(f"{base}/espace")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()

"""The workspace's pages read through the HTTP client: the demo's accounts, signing in, the
CSRF token and the flash message of a page."""

import re

from app.demo_people import DEMO_PASSWORD

# The demo's accounts (fixture `demo`), all with DEMO_PASSWORD.
COORDINATOR = "coordination@cpts-grand-arras.example.fr"
OTHER_COORDINATOR = "coordination@cpts-provence-sante.example.fr"
PROFESSIONAL = "pharmacie.centrale@grand-arras.example.fr"
DOCTOR = "docteur@grand-arras.example.fr"
REGULATOR = "regulation@sas62.example.fr"


def sign_in(client, email: str) -> None:
    client.cookies.clear()
    response = client.post(
        "/espace/connexion", data={"email": email, "password": DEMO_PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def flash_of(html: str) -> str:
    found = re.search(r'id="flash">([^<]*)<', html)
    return found.group(1) if found else ""


def queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/espace/demandes/(\d+)"', html)]

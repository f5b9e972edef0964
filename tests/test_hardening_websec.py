"""Issue 10, items 5-7: security headers (and Secure cookies over HTTPS), sign-in throttling
that tells nobody who has an account, and X-Forwarded-For believed from our proxies only."""

import base64
import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.schemas import UserCreate
from app.accounts.service import create_user
from app.audit.models import AuditEvent
from app.core.database import utcnow
from app.core.proxies import client_address
from app.main import create_app

pytestmark = pytest.mark.usefixtures("demo_territories")
PASSWORD = "correct horse battery"
EMAIL = "claire@cpts.example.fr"
APP = Path(__file__).resolve().parent.parent / "app"
PROXY = ("127.0.0.1", 40000)  # a reverse proxy on the same host (the default TRUSTED_PROXIES)


@pytest.fixture
def coordinator(db):
    user = create_user(
        db,
        UserCreate(email=EMAIL, display_name="Claire", role="coordinator", password=PASSWORD, cpts=["grand-arras"]),
        None,
    )
    db.commit()  # services leave committing to the caller
    return user


@pytest.fixture
def make_client(settings, engine):
    """make_client(peer=..., base_url=..., **settings) → a started TestClient; its clock is frozen
    (client.now), moved by the test with client.move(seconds)."""
    clients = []

    def make(peer=("198.51.100.20", 50000), base_url="http://testserver", **changes) -> TestClient:
        app = create_app(settings.model_copy(update=changes))
        client = TestClient(app, client=peer, base_url=base_url)
        client.__enter__()
        clients.append(client)
        client.now = utcnow()
        app.state.clock = lambda: client.now

        def move(seconds: float) -> None:
            client.now += timedelta(seconds=seconds)

        client.move = move
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
        client.app.state.engine.dispose()


def login(client, email=EMAIL, password=PASSWORD, **headers):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password}, headers=headers)


def patient(**changes):
    return {
        "family_name": "Dupré",
        "given_name": "Anne",
        "birth_date": "1980-05-04",
        "phone": "06 12 34 56 78",
        "postcode": "62217",
        "city": "Tilloy-lès-Mofflaines",
        "no_doctor_reason": "doctor_left",
        "consent": True,
        "cpts": "grand-arras",
        **changes,
    }


# --- Item 7: X-Forwarded-For ---------------------------------------------------------------


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # The client wrote the leftmost entries: only the one our proxy appended counts.
        ("127.0.0.1", "6.6.6.6, 203.0.113.7", "127.0.0.1", "203.0.113.7"),
        # Two proxies of ours (the load balancer in 10.0.0.0/8, then the local one).
        ("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3", "127.0.0.1,10.0.0.0/8", "203.0.113.7"),
        # A proxy that is not ours (10.1.2.3 untrusted) is as far as we can see.
        ("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3", "127.0.0.1", "10.1.2.3"),
        # Several headers are one list, in order.
        ("127.0.0.1", "6.6.6.6, 203.0.113.8", "127.0.0.1", "203.0.113.8"),
        # A peer that is not a trusted proxy: its header is ignored, whatever it says.
        ("198.51.100.1", "203.0.113.7", "127.0.0.1", "198.51.100.1"),
        # Not an address where our proxy writes one: blame the proxy's own hop, believe nothing.
        ("127.0.0.1", "203.0.113.7, not-an-ip", "127.0.0.1", "127.0.0.1"),
        # IPv6 and ports as some proxies write them.
        ("::1", "[2001:db8::5]:4430", "127.0.0.1,::1", "2001:db8::5"),
        ("127.0.0.1", "192.0.2.9:5678", "127.0.0.1", "192.0.2.9"),
        # Every hop is ours: the leftmost one (an internal client).
        ("127.0.0.1", "10.0.0.7", "127.0.0.1,10.0.0.0/8", "10.0.0.7"),
    ],
)
def test_the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy(settings, peer, forwarded, trusted, expected):
    configured = settings.model_copy(update={"trust_forwarded_for": True, "trusted_proxies": trusted})
    assert client_address(scope(peer, forwarded), configured) == expected


def test_the_header_is_ignored_unless_trust_forwarded_for_is_set(settings):
    assert client_address(scope("127.0.0.1", "203.0.113.7"), settings) == "127.0.0.1"


def test_bad_trusted_proxies_stop_the_service_at_start(settings):
    from pydantic import ValidationError

    from app.core.settings import Settings

    with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
        Settings(**(settings.model_dump() | {"trusted_proxies": "127.0.0.1, nonsense"}))


def test_spoofed_leftmost_entries_do_not_get_round_the_rate_limit(make_client):
    client = make_client(peer=PROXY, trust_forwarded_for=True, intake_per_minute=3)
    statuses = [
        client.post(
            "/api/v1/requests",
            json=patient(given_name=f"P{i}"),
            headers={"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.7"},
        ).status_code
        for i in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]
    # Another client behind the same proxy has its own count.
    other = client.post(
        "/api/v1/requests", json=patient(given_name="Q"), headers={"X-Forwarded-For": "203.0.113.7, 203.0.113.99"}
    )
    assert other.status_code == 201


def test_a_direct_client_cannot_pretend_to_be_behind_the_proxy(make_client):
    client = make_client(peer=("198.51.100.20", 50000), trust_forwarded_for=True, intake_per_minute=2)
    statuses = [
        client.post(
            "/api/v1/requests", json=patient(given_name=f"P{i}"), headers={"X-Forwarded-For": f"203.0.113.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert statuses == [201, 201, 429]


def test_the_audit_trail_records_the_address_our_proxy_saw(make_client, make_account, db):
    client = make_client(peer=PROXY, trust_forwarded_for=True)
    request_id = client.post("/api/v1/requests", json=patient()).json()["id"]
    headers = make_account("coordinator", ["grand-arras"]) | {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
    assert client.get(f"/api/v1/requests/{request_id}", headers=headers).status_code == 200
    events = db.scalars(select(AuditEvent).where(AuditEvent.object_id == str(request_id))).all()
    assert {e.client_address for e in events if e.actor_user_id is not None} == {"203.0.113.7"}


# --- Item 6: sign-in throttling --------------------------------------------------------------


def answers_of(client, email, tries):
    out = []
    for _ in range(tries):
        response = login(client, email=email, password="wrong password!")
        out.append((response.status_code, response.json(), response.headers.get("retry-after")))
    return out


def test_a_known_and_an_unknown_email_get_the_same_answers_all_along(make_client, coordinator):
    client = make_client()
    known = answers_of(client, EMAIL, 7)
    unknown = answers_of(client, "nobody@cpts.example.fr", 7)
    assert [a[0] for a in known] == [401, 401, 401, 401, 401, 429, 429]
    assert known == unknown
    assert known[5][1]["message"] == "Trop de tentatives avec cette adresse e-mail : réessayez dans 1 s."


def test_the_wait_grows_after_five_failures_and_stays_under_a_minute(make_client, coordinator):
    client = make_client()
    for _ in range(5):
        assert login(client, password="wrong password!").status_code == 401
    waits = []
    for _ in range(9):
        refused = login(client, password="wrong password!")
        assert refused.status_code == 429
        waits.append(int(refused.headers["retry-after"]))
        client.move(waits[-1] - 0.5)
        assert login(client, password="wrong password!").status_code == 429  # not yet
        client.move(0.5)
        assert login(client, password="wrong password!").status_code == 401  # one more failure
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_the_right_password_from_a_new_address_waits_at_most_the_delay(make_client, coordinator):
    """Someone hammering the account from elsewhere never locks its owner out for long."""
    attacker = make_client(peer=PROXY, trust_forwarded_for=True)
    for _ in range(40):
        if login(attacker, password="guess", **{"X-Forwarded-For": "203.0.113.66"}).status_code == 429:
            attacker.move(60)
    attacker.move(60)
    assert login(attacker, password="guess", **{"X-Forwarded-For": "203.0.113.66"}).status_code == 401
    owner = make_client(peer=PROXY, trust_forwarded_for=True)
    owner.now = attacker.now
    waiting = login(owner, **{"X-Forwarded-For": "192.0.2.10"})
    assert waiting.status_code == 429
    assert int(waiting.headers["retry-after"]) <= 60
    owner.move(int(waiting.headers["retry-after"]))
    signed_in = login(owner, **{"X-Forwarded-For": "192.0.2.10"})
    assert signed_in.status_code == 200
    # Success wipes the slate: the next failures start from zero again.
    assert [login(owner, password="typo").status_code for _ in range(5)] == [401] * 5


def test_failures_are_forgotten_after_an_hour(make_client, coordinator):
    client = make_client()
    for _ in range(8):
        login(client, password="wrong password!")
        client.move(70)
    client.move(3600)
    assert login(client, password="wrong password!").status_code == 401
    assert login(client).status_code == 200


def test_one_address_is_stopped_whichever_emails_it_tries(make_client, coordinator):
    client = make_client(intake_per_minute=4)
    statuses = [login(client, email=f"user{i}@cpts.example.fr").status_code for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
    other_address = TestClient(client.app, client=("192.0.2.44", 50000))  # same app, same counts
    assert login(other_address).status_code == 200
    client.move(60)
    assert login(client).status_code == 200


def test_the_sign_in_page_says_how_long_to_wait_in_french(make_client, coordinator):
    client = make_client()
    for _ in range(5):
        page = client.post("/espace/connexion", data={"email": EMAIL, "password": "faux"})
        assert page.status_code == 401
    page = client.post("/espace/connexion", data={"email": EMAIL, "password": PASSWORD})
    assert page.status_code == 429
    assert page.headers["retry-after"] == "1"
    assert "réessayez dans 1 s" in page.text
    client.move(1)
    assert (
        client.post(
            "/espace/connexion", data={"email": EMAIL, "password": PASSWORD}, follow_redirects=False
        ).status_code
        == 303
    )


# --- Item 5: security headers ------------------------------------------------------------------


def policy(response) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in response.headers["content-security-policy"].split("; ")
    }


def assert_protected(response) -> None:
    csp = policy(response)
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'self'" and csp["base-uri"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in response.headers["permissions-policy"]


def test_every_kind_of_response_carries_the_headers(make_client):
    client = make_client()

    def boom():
        raise RuntimeError("a bug")

    client.app.add_api_route("/boom", boom)
    responses = {
        "page": client.get("/?cpts=grand-arras"),
        "sign-in": client.get("/espace/connexion"),
        "api": client.get("/api/v1/territories"),
        "api 404": client.get("/api/v1/nothing-here"),
        "api 422": client.get("/api/v1/residency"),
        "page 404": client.get("/espace/nulle-part"),
        "static": client.get("/static/workspace/workspace.css"),
        "fhir": client.get("/fhir/metadata"),
    }
    unsafe = TestClient(client.app, raise_server_exceptions=False, client=("198.51.100.20", 50000))
    responses["500"] = unsafe.get("/boom")
    assert responses["500"].status_code == 500
    for what, response in responses.items():
        assert "content-security-policy" in response.headers, what
        assert_protected(response)
        assert "strict-transport-security" not in response.headers, what  # plain HTTP


def test_the_map_tiles_origin_is_allowed_for_images(make_client):
    client = make_client(map_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert policy(client.get("/espace/connexion"))["img-src"] == "'self' data: https://*.tiles.example.org"
    without = make_client(map_tile_url="")
    assert policy(without.get("/espace/connexion"))["img-src"] == "'self' data:"


def test_over_https_hsts_and_secure_cookies_come_by_themselves(make_client, coordinator):
    client = make_client(base_url="https://testserver")
    response = login(client)
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "; Secure" in response.headers["set-cookie"]
    flash = client.post("/espace/connexion", data={"email": EMAIL, "password": PASSWORD}, follow_redirects=False)
    assert all("; Secure" in c for c in flash.headers.get_list("set-cookie"))


def test_behind_a_trusted_proxy_of_an_https_deployment_too(make_client, coordinator):
    behind = make_client(peer=PROXY, public_url="https://orientation.example.fr")
    response = login(behind)
    assert "strict-transport-security" in response.headers and "; Secure" in response.headers["set-cookie"]
    # A direct, untrusted peer speaking plain HTTP gets neither.
    direct = make_client(public_url="https://orientation.example.fr")
    response = login(direct)
    assert "strict-transport-security" not in response.headers and "Secure" not in response.headers["set-cookie"]


def test_cookie_secure_forces_it_over_plain_http(make_client, coordinator):
    response = login(make_client(cookie_secure=True))
    assert "; Secure" in response.headers["set-cookie"]
    assert "strict-transport-security" not in response.headers


def test_the_api_documentation_runs_its_inline_scripts_by_hash_only(make_client):
    client = make_client()
    for path in ("/docs", "/docs/oauth2-redirect"):
        page = client.get(path)
        scripts = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
        assert scripts
        csp = policy(page)
        assert "unsafe" not in csp["script-src"]
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp["script-src"], path


TEMPLATE_DIRS = [APP / "web" / "templates", APP / "notifications" / "templates"]
INLINE = [
    (re.compile(r"<style", re.I), "a <style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on… event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    # <script> without src that is not a data block
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "an inline script"),
]


def test_no_template_holds_inline_script_or_style():
    """The policy refuses them: they would silently stop working in the browser."""
    found = []
    for directory in TEMPLATE_DIRS:
        for path in directory.rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                found += [f"{path.relative_to(APP)}: {what}" for pattern, what in INLINE if pattern.search(text)]
    assert found == []

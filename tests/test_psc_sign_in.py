"""Signing in with Pro Santé Connect, through the HTTP client, against a provider of our own on
loopback (tests/fakes/psc.py): who is matched (a linked account, a doctor by its RPPS, a SAS
regulator), the first sign-in that makes a doctor's account when its coordination allowed it,
and every refusal (wrong nonce, expired ID token, bad signature, unknown RPPS, state mismatch
or reused, the provider's error, a missing cookie), each with a French message and nothing
left behind: no account, no session."""

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts.models import Membership, Role, User, WebSession
from app.accounts.principal import SESSION_COOKIE
from app.audit.models import AuditEvent
from app.demo_people import demo_rpps
from app.doctors.models import Doctor
from app.fhir.profiles import NATIONAL_PS
from app.main import create_app
from app.snp.models import RegulatorIdentifier, Slot
from app.snp.sas_links import sas_booking_links
from app.territories.models import Territory
from tests.fakes.psc import FakePsc, psc_userinfo
from tests.helpers.workspace import COORDINATOR, csrf_of, flash_of, sign_in

START = "/espace/connexion/psc"
DEMO_DOCTOR = "docteur@grand-arras.example.fr"
REGULATOR = "regulation@sas62.example.fr"


@pytest.fixture
def fake_psc() -> Iterator[FakePsc]:
    with FakePsc() as fake:
        yield fake


@pytest.fixture
def psc_client(settings, engine, fake_psc) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update=fake_psc.settings()))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def _to_psc_and_back(client: TestClient, suite: str = "") -> tuple[str, httpx.Response]:
    """The button, PSC (which consents at once), and the way back: (callback URL, its redirect)."""
    start = client.get(START, params={"suite": suite} if suite else None, follow_redirects=False)
    assert start.status_code == 303, start.text
    at_psc = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_psc.status_code == 302
    back = urlparse(at_psc.headers["location"])
    return f"{back.path}?{back.query}", at_psc


def psc_sign_in(client: TestClient, suite: str = "") -> httpx.Response:
    callback, _ = _to_psc_and_back(client, suite)
    return client.get(callback, follow_redirects=False)


def _error_of(page: str) -> str:
    found = re.search(r'id="sign-in-error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else ""


def _counts(db) -> tuple[int, int, int]:
    db.commit()  # a fresh read of what the app committed
    users = db.scalar(select(func.count()).select_from(User))
    sessions = db.scalar(select(func.count()).select_from(WebSession))
    linked = db.scalar(select(func.count()).select_from(User).where(User.national_id.is_not(None)))
    return users, sessions, linked


def _doctor_without_account(db) -> Doctor:
    """An active doctor of the Grand Arras (the demo coordinator's CPTS) with no account."""
    with_account = select(User.doctor_id).where(User.doctor_id.is_not(None))
    grand_arras = select(Territory.id).where(Territory.slug == "grand-arras").scalar_subquery()
    doctor = db.scalars(
        select(Doctor)
        .where(Doctor.id.not_in(with_account), Doctor.active.is_(True), Doctor.territory_id == grand_arras)
        .order_by(Doctor.id)
    ).first()
    db.commit()
    return doctor


def _demo_doctor(db) -> tuple[User, Doctor]:
    user = db.scalars(select(User).where(User.email == DEMO_DOCTOR)).one()
    doctor = db.get_one(Doctor, user.doctor_id)
    db.commit()
    return user, doctor


def test_without_psc_settings_there_is_no_button_and_no_route(client, demo_territories):
    page = client.get("/espace/connexion")
    assert page.status_code == 200 and "Pro Santé Connect" not in page.text
    assert client.get(START, follow_redirects=False).status_code == 404
    assert client.get(f"{START}/retour?code=x&state=y", follow_redirects=False).status_code == 404


def test_the_authorization_request_carries_pkce_state_nonce_scopes_and_acr(psc_client, fake_psc, demo_territories):
    page = psc_client.get("/espace/connexion")
    assert "Se connecter avec Pro Santé Connect" in page.text
    start = psc_client.get(START, follow_redirects=False)
    asked = {k: v[0] for k, v in parse_qs(urlparse(start.headers["location"]).query).items()}
    assert start.headers["location"].startswith(f"{fake_psc.base}/auth/realms/esante-wallet/")
    assert asked["response_type"] == "code" and asked["client_id"] == "orientation-cpts-test"
    assert asked["scope"] == "openid scope_all" and asked["acr_values"] == "eidas1"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32
    assert asked["redirect_uri"] == "http://127.0.0.1:8000/espace/connexion/psc/retour"  # from PUBLIC_URL
    cookie = start.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/espace/connexion/psc" in cookie and "Max-Age=600" in cookie
    # A second start makes other values: nothing is reused.
    again = psc_client.get(START, follow_redirects=False)
    assert parse_qs(urlparse(again.headers["location"]).query)["state"][0] != asked["state"]


def test_a_doctor_with_an_account_signs_in_and_is_linked(psc_client, fake_psc, db, demo):
    user, doctor = _demo_doctor(db)
    fake_psc.national_id = "8" + doctor.rpps
    answer = psc_sign_in(psc_client)
    assert answer.status_code == 303 and answer.headers["location"] == "/espace/mon-cabinet"
    assert SESSION_COOKIE in answer.cookies
    own = psc_client.get("/espace/mon-cabinet")
    assert own.status_code == 200 and doctor.family_name.upper() in own.text.upper()
    db.commit()
    db.refresh(user)
    assert user.national_id == "8" + doctor.rpps and user.last_active_at is not None
    link = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.psc_link")).one()
    assert link.object_id == str(user.id) and link.actor == "psc"
    # The next time, the account is found by its national identifier.
    psc_client.cookies.clear()
    assert psc_sign_in(psc_client).headers["location"] == "/espace/mon-cabinet"
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.psc_link")) == 1


def test_a_doctors_first_sign_in_makes_its_account_once_the_coordination_allowed_it(
    psc_client, fake_psc, db, demo, make_account
):
    doctor = _doctor_without_account(db)
    fake_psc.national_id = "8" + doctor.rpps
    before = _counts(db)
    refused = psc_sign_in(psc_client)
    assert refused.status_code == 403 and "aucun compte" in _error_of(refused.text)
    assert _counts(db) == before
    # The doctor itself cannot allow it; its coordination can.
    coordinator = make_account("coordinator", [doctor.territory.slug])
    allowed = psc_client.patch(f"/api/v1/doctors/{doctor.id}", json={"psc_sign_in_allowed": True}, headers=coordinator)
    assert allowed.status_code == 200 and allowed.json()["psc_sign_in_allowed"] is True
    answer = psc_sign_in(psc_client)
    assert answer.status_code == 303 and answer.headers["location"] == "/espace/mon-cabinet"
    assert psc_client.get("/espace/mon-cabinet").status_code == 200
    db.commit()
    user = db.scalars(select(User).where(User.doctor_id == doctor.id)).one()
    assert user.role == Role.DOCTOR.value and user.password_hash is None and user.national_id == "8" + doctor.rpps
    assert user.email == doctor.email.lower() and user.display_name == f"Dr {doctor.given_name} {doctor.family_name}"
    assert [m.territory_id for m in db.scalars(select(Membership).where(Membership.user_id == user.id))] == [
        doctor.territory_id
    ]
    created = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.create", AuditEvent.object_id == str(user.id))
    ).one()
    assert created.actor == "psc" and created.territory_id == doctor.territory_id


def test_a_doctor_cannot_allow_its_own_psc_account(client, db, demo, make_account):
    doctor = _doctor_without_account(db)
    own = make_account("doctor", [doctor.territory.slug], doctor_rpps=doctor.rpps)
    answer = client.patch(f"/api/v1/doctors/{doctor.id}", json={"psc_sign_in_allowed": True}, headers=own)
    assert answer.status_code == 403 and "coordination" in answer.json()["message"]
    db.commit()
    db.expire_all()
    assert db.get_one(Doctor, doctor.id).psc_sign_in_allowed is False


def test_a_non_doctor_is_not_given_a_doctors_account(psc_client, fake_psc, db, demo):
    doctor = _doctor_without_account(db)
    doctor.psc_sign_in_allowed = True
    db.add(doctor)
    db.commit()
    fake_psc.national_id = "8" + doctor.rpps
    fake_psc.userinfo = psc_userinfo(fake_psc.national_id, profession="60")  # infirmier
    before = _counts(db)
    answer = psc_sign_in(psc_client)
    assert answer.status_code == 403 and "aucun compte" in _error_of(answer.text)
    assert _counts(db) == before


@pytest.mark.parametrize(
    ("fail", "status", "words"),
    [
        ("wrong_nonce", 401, "n'a pas pu être vérifiée"),
        ("expired", 401, "n'a pas pu être vérifiée"),
        ("bad_signature", 401, "n'a pas pu être vérifiée"),
        ("low_acr", 401, "Niveau d'authentification"),
        ("wrong_state", 400, "ne correspond pas à la connexion commencée"),
        ("error", 401, "n'a pas authentifié la connexion"),
    ],
)
def test_a_doubtful_answer_is_refused_and_leaves_nothing(psc_client, fake_psc, db, demo, fail, status, words):
    _, doctor = _demo_doctor(db)
    fake_psc.national_id = "8" + doctor.rpps
    fake_psc.fail = fail
    before = _counts(db)
    answer = psc_sign_in(psc_client)
    assert answer.status_code == status, answer.text
    assert words in _error_of(answer.text)
    assert "Se connecter avec Pro Santé Connect" in answer.text  # to try again
    assert SESSION_COOKIE not in answer.cookies and not psc_client.cookies.get(SESSION_COOKIE)
    assert _counts(db) == before
    assert psc_client.get("/espace/mon-cabinet", follow_redirects=False).status_code == 303  # to sign-in


def test_an_unknown_rpps_is_refused(psc_client, fake_psc, db, demo):
    fake_psc.national_id = "8" + demo_rpps(999)
    before = _counts(db)
    answer = psc_sign_in(psc_client)
    assert answer.status_code == 403
    assert "ne correspond à aucun compte" in _error_of(answer.text)
    assert _counts(db) == before


def test_a_state_serves_once_and_only_in_the_browser_that_asked(psc_client, fake_psc, db, demo):
    _, doctor = _demo_doctor(db)
    fake_psc.national_id = "8" + doctor.rpps
    callback, _ = _to_psc_and_back(psc_client)
    kept = psc_client.cookies.get("orientation_psc")
    assert psc_client.get(callback, follow_redirects=False).status_code == 303
    # The same return again, with the same cookie (replayed): refused.
    psc_client.cookies.clear()
    psc_client.cookies.set("orientation_psc", kept, path="/espace/connexion/psc")
    replay = psc_client.get(callback, follow_redirects=False)
    assert replay.status_code == 400 and "déjà servi" in _error_of(replay.text)
    assert not psc_client.cookies.get(SESSION_COOKIE)
    # A return in another browser (no cookie), or with a forged cookie: refused.
    callback, _ = _to_psc_and_back(psc_client)
    psc_client.cookies.clear()
    before = _counts(db)
    elsewhere = psc_client.get(callback, follow_redirects=False)
    assert elsewhere.status_code == 400 and "recommencez" in _error_of(elsewhere.text)
    psc_client.cookies.set("orientation_psc", kept[:-4] + "AAAA", path="/espace/connexion/psc")
    assert psc_client.get(callback, follow_redirects=False).status_code == 400
    assert _counts(db) == before


def test_a_deactivated_account_is_refused(psc_client, fake_psc, db, demo):
    user, doctor = _demo_doctor(db)
    user.active = False
    db.add(user)
    db.commit()
    fake_psc.national_id = "8" + doctor.rpps
    before = _counts(db)
    answer = psc_sign_in(psc_client)
    assert answer.status_code == 403 and "désactivé" in _error_of(answer.text)
    assert _counts(db) == before


@pytest.mark.parametrize("suite", ["//evil.example/espace", "https://evil.example/", "/api/v1/users"])
def test_the_return_page_is_always_one_of_ours(psc_client, fake_psc, db, demo, suite):
    _, doctor = _demo_doctor(db)
    fake_psc.national_id = "8" + doctor.rpps
    assert psc_sign_in(psc_client, suite).headers["location"] == "/espace/mon-cabinet"


def test_a_regulator_from_the_sas_signs_in_with_psc_and_returns_to_the_booking_page(
    psc_client, fake_psc, db, demo_slots
):
    regulator = db.scalars(select(User).where(User.email == REGULATOR)).one()
    national_id = "8" + demo_rpps(777)
    db.add(RegulatorIdentifier(user_id=regulator.id, system=NATIONAL_PS, value=national_id, kind="IDNPS"))
    slot = db.scalars(
        select(Slot)
        .where(Slot.sas_visible.is_(True), Slot.status == "free")
        .where(Slot.start_at > datetime.now(UTC) + timedelta(hours=1))
        .order_by(Slot.start_at)
    ).first()
    db.commit()
    links = sas_booking_links(psc_client.app)
    link = f"/espace/soins-non-programmes/creneaux/{slot.id}/reserver?origin=sas&sas="
    link += links.token(slot.id, links.expires(datetime.now(UTC)))
    # Arriving from the SAS without a session: the sign-in page offers PSC, to come back here.
    first = psc_client.get(link, follow_redirects=False)
    assert first.status_code == 303
    page = psc_client.get(first.headers["location"])
    assert 'id="from-sas"' in page.text and "Se connecter avec Pro Santé Connect" in page.text
    button = re.search(r'id="psc-sign-in" href="/espace/connexion/psc\?suite=([^"]*)"', page.text)
    suite = unquote(html.unescape(button[1]))
    assert suite == link
    fake_psc.national_id = national_id
    fake_psc.userinfo = psc_userinfo(national_id, given_name="REGUL", family_name="SAS0001")
    answer = psc_sign_in(psc_client, suite)
    assert answer.status_code == 303 and answer.headers["location"] == link
    booking = psc_client.get(link)
    assert booking.status_code == 200 and "Réserver" in booking.text
    db.commit()
    db.refresh(regulator)
    assert regulator.national_id == national_id


def test_a_provider_that_does_not_answer_gets_a_french_page_not_an_error(settings, engine, demo_territories):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    unreachable = {
        "psc_discovery_url": f"http://127.0.0.1:{closed}/auth/realms/esante-wallet/.well-known/openid-configuration",
        "psc_client_id": "orientation-cpts-test",
        "psc_client_secret": "secret",
        "psc_timeout_seconds": 2,
    }
    app = create_app(settings.model_copy(update=unreachable))
    with TestClient(app) as test_client:
        answer = test_client.get(START, follow_redirects=False)
        kept = test_client.cookies.get("orientation_psc")
    app.state.engine.dispose()
    assert answer.status_code == 503 and "ne répond pas" in _error_of(answer.text)
    assert not kept  # nothing started


def test_the_coordination_allows_it_from_the_doctors_page(client, db, demo):
    doctor = _doctor_without_account(db)
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/medecins/{doctor.id}")
    assert "Autoriser l'ouverture du compte par Pro Santé Connect" in page.text
    done = client.post(
        f"/espace/medecins/{doctor.id}/psc",
        data={"allowed": "yes", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "Pro Santé Connect" in flash_of(client.get(done.headers["location"]).text)
    db.commit()
    db.expire_all()
    assert db.get_one(Doctor, doctor.id).psc_sign_in_allowed is True
    page = client.get(f"/espace/medecins/{doctor.id}")
    client.post(f"/espace/medecins/{doctor.id}/psc", data={"csrf_token": csrf_of(page.text)})
    db.commit()
    db.expire_all()
    assert db.get_one(Doctor, doctor.id).psc_sign_in_allowed is False


def test_a_pro_sante_connect_sign_in_meets_the_second_factor_requirement(settings, engine, fake_psc, db, demo):
    """PSC (CPS card or e-CPS) is a strong sign-in: a coordinator whose account carries its
    national identifier reaches the queue through PSC with REQUIRE_SECOND_FACTOR on, where the
    same account signed in by password alone is sent to the second factor."""
    coordinator = db.scalars(select(User).where(User.email == COORDINATOR)).one()
    coordinator.national_id = "8" + demo_rpps(998)
    db.commit()
    fake_psc.national_id = coordinator.national_id
    app = create_app(settings.model_copy(update=fake_psc.settings() | {"require_second_factor": True}))
    with TestClient(app) as client:
        sign_in(client, COORDINATOR)
        weak = client.get("/espace/demandes", follow_redirects=False)
        assert weak.status_code == 303 and weak.headers["location"].startswith("/espace/second-facteur")
        client.cookies.clear()
        assert psc_sign_in(client).status_code == 303
        queue = client.get("/espace/demandes", follow_redirects=False)
        assert queue.status_code == 200 and "second-facteur" not in queue.headers.get("location", "")
    app.state.engine.dispose()

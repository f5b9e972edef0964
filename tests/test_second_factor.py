"""The second factor over HTTP, with ORIENTATION_REQUIRE_SECOND_FACTOR set: a coordinator
reaches no patient page nor endpoint before it (enrolment with a TOTP app, codes computed here
with pyotp from the secret the page shows), a wrong code is refused, a recovery code works
once, a code is never accepted twice, and a session opened strong (Pro Santé Connect) meets it."""

import re
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import RecoveryCode, User
from app.accounts.principal import SESSION_COOKIE
from app.accounts.service import open_session
from app.core.database import utcnow
from app.main import create_app
from app.requests.models import PatientRequest
from tests.helpers.workspace import COORDINATOR, PROFESSIONAL, csrf_of, sign_in


@pytest.fixture
def required(settings, engine):
    app = create_app(settings.model_copy(update={"require_second_factor": True}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def second_browser(required):
    with TestClient(required.app) as other:
        yield other


def _patient_pages(db) -> list[str]:
    request_id = db.scalars(select(PatientRequest.id).where(PatientRequest.territory.has(slug="grand-arras"))).first()
    return [
        "/espace/demandes",
        f"/espace/demandes/{request_id}",
        "/espace/personnes",
        "/espace/indicateurs.csv",
        "/espace/accueil",
        "/espace/comptes",
        "/espace/mon-compte",
    ]


def _api(request_id: int) -> list[str]:
    return ["/api/v1/requests", f"/api/v1/requests/{request_id}", "/api/v1/requests/export?cpts=grand-arras"]


def _refused_everywhere(client, db) -> None:
    for path in _patient_pages(db):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/espace/second-facteur"), path
    request_id = db.scalars(select(PatientRequest.id)).first()
    for path in _api(request_id):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Second facteur requis" in response.json()["message"]


START = utcnow()


@pytest.fixture(autouse=True)
def _still_clock(monkeypatch):
    """The codes' clock holds still (a test never straddles a 30-second step by chance)."""
    _later(monkeypatch, 0)


def _later(monkeypatch, seconds: int) -> None:
    moved = START + timedelta(seconds=seconds)
    monkeypatch.setattr("app.accounts.second_factor.utcnow", lambda: moved)


def _code(secret: str) -> str:
    """What the authenticator app shows now, by the codes' clock."""
    from app.accounts import second_factor

    return pyotp.TOTP(secret).at(second_factor.utcnow())


def _enrol(client) -> tuple[str, list[str]]:
    page = client.get("/espace/second-facteur/activation")
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    assert 'src="data:image/svg+xml;base64,' in page.text  # the QR code
    csrf = csrf_of(page.text)
    wrong = client.post("/espace/second-facteur/activation", data={"csrf_token": csrf, "code": "000000"})
    assert wrong.status_code == 422 and "Code incorrect" in wrong.text
    done = client.post("/espace/second-facteur/activation", data={"csrf_token": csrf, "code": _code(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", done.text)
    assert len(codes) == 10
    return secret, codes


def _give(client, code: str):
    page = client.get("/espace/second-facteur")
    assert page.status_code == 200, page.text
    return client.post(
        "/espace/second-facteur", data={"csrf_token": csrf_of(page.text), "code": code}, follow_redirects=False
    )


def test_a_coordinator_reaches_no_patient_before_the_second_factor(required, db, demo, monkeypatch):
    sign_in(required, COORDINATOR)
    _refused_everywhere(required, db)
    # Not enrolled yet: the second factor's page leads to the enrolment.
    asked = required.get("/espace/demandes", follow_redirects=True)
    assert asked.url.path == "/espace/second-facteur/activation"
    secret, codes = _enrol(required)
    for path in _patient_pages(db):
        assert required.get(path, follow_redirects=False).status_code == 200, path
    assert required.get("/api/v1/requests").status_code == 200
    db.rollback()
    user = db.scalars(select(User).where(User.email == COORDINATOR)).one()
    stored = set(db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)))
    assert len(stored) == 10 and not any(c.replace("-", "") in stored or c in stored for c in codes)  # hashed

    # The next sign-in asks again: a wrong code is refused, the same TOTP code is not accepted twice.
    sign_in(required, COORDINATOR)
    _refused_everywhere(required, db)
    assert _give(required, "123456" if _code(secret) != "123456" else "654321").status_code == 422
    assert _give(required, _code(secret)).status_code == 422  # used at enrolment, this step
    _later(monkeypatch, 30)
    given = _give(required, _code(secret))
    assert given.status_code == 303 and given.headers["location"] == "/espace/demandes"
    assert required.get("/espace/demandes", follow_redirects=False).status_code == 200

    # A recovery code works once.
    sign_in(required, COORDINATOR)
    assert _give(required, codes[0]).status_code == 303
    assert required.get("/api/v1/requests").status_code == 200
    sign_in(required, COORDINATOR)
    assert _give(required, codes[0]).status_code == 422
    _refused_everywhere(required, db)
    assert _give(required, codes[1].upper().replace("-", " ")).status_code == 303  # typed loosely


def test_the_second_factor_comes_back_to_the_page_asked(required, db, demo):
    sign_in(required, COORDINATOR)
    _enrol(required)
    sign_in(required, COORDINATOR)
    asked = required.get("/espace/personnes", follow_redirects=False)
    assert asked.headers["location"] == "/espace/second-facteur?suite=/espace/personnes"


def test_a_session_opened_strong_meets_the_requirement(required, db, demo):
    """What the Pro Santé Connect sign-in does: open_session(..., strong=True)."""
    user = db.scalars(select(User).where(User.email == COORDINATOR)).one()
    secret, _ = open_session(db, required.app.state.settings, user, strong=True)
    db.commit()
    required.cookies.set(SESSION_COOKIE, secret)
    for path in _patient_pages(db):
        assert required.get(path, follow_redirects=False).status_code == 200, path
    assert required.get("/api/v1/requests").status_code == 200


def test_tokens_meet_the_requirement_only_when_made_from_a_strong_session(required, db, demo, make_account):
    # Made before the requirement, from a password alone: refused.
    weak = make_account("coordinator", ["grand-arras"])
    assert required.get("/api/v1/requests", headers=weak).status_code == 403
    assert required.get("/espace/demandes", headers=weak, follow_redirects=False).status_code == 403
    # A weak session cannot make one either (it reaches no page nor endpoint).
    sign_in(required, COORDINATOR)
    assert required.post("/api/v1/auth/tokens", json={"name": "x"}).status_code == 403
    _enrol(required)
    page = required.get("/espace/mon-compte")
    made = required.post("/espace/mon-compte/jetons", data={"csrf_token": csrf_of(page.text), "name": "export"})
    token = re.search(r"<code>(orn_[^<]+)</code>", made.text).group(1)
    required.cookies.clear()
    assert required.get("/api/v1/requests", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_professional_is_not_asked_unless_it_enrolled(required, db, demo):
    sign_in(required, PROFESSIONAL)
    assert required.get("/espace/mes-demandes", follow_redirects=False).status_code == 200
    assert required.get("/api/v1/requests").status_code == 200


def test_off_by_default_but_an_enrolled_account_is_asked(client, db, demo):
    sign_in(client, COORDINATOR)
    assert client.get("/espace/demandes", follow_redirects=False).status_code == 200
    _enrol(client)
    sign_in(client, COORDINATOR)
    assert (
        client.get("/espace/demandes", follow_redirects=False).headers["location"].startswith("/espace/second-facteur")
    )


def test_a_session_signed_in_through_the_api_owes_it_too(required, db, demo):
    from app.demo_people import DEMO_PASSWORD

    session = required.post("/api/v1/auth/login", json={"email": COORDINATOR, "password": DEMO_PASSWORD}).json()
    search = required.post(
        "/api/v1/privacy/search", json={"phone": "0612345678"}, headers={"X-CSRF-Token": session["csrf_token"]}
    )
    assert search.status_code == 403 and "Second facteur requis" in search.json()["message"]


def test_wrong_codes_in_a_row_wait_as_failed_sign_ins_do(required, db, demo, monkeypatch):
    sign_in(required, COORDINATOR)
    secret, _ = _enrol(required)
    sign_in(required, COORDINATOR)
    _later(monkeypatch, 30)  # past the enrolment's step
    right = _code(secret)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert _give(required, wrong).status_code == 422
    refused = _give(required, right)  # even the right code waits now
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    later = utcnow() + timedelta(seconds=2)
    required.app.state.clock = lambda: later
    assert _give(required, right).status_code == 303


def test_giving_the_second_factor_changes_the_sessions_cookie(required, db, demo):
    sign_in(required, COORDINATOR)
    _enrol(required)
    sign_in(required, COORDINATOR)
    before = required.cookies.get(SESSION_COOKIE)
    db.rollback()
    user = db.scalars(select(User).where(User.email == COORDINATOR)).one()
    from app.accounts.second_factor import new_recovery_codes

    code = new_recovery_codes(db, user)[0]
    db.commit()
    assert _give(required, code).status_code == 303
    after = required.cookies.get(SESSION_COOKIE)
    assert after and after != before
    assert required.get("/espace/demandes", follow_redirects=False).status_code == 200
    required.cookies.set(SESSION_COOKIE, before)
    assert required.get("/espace/demandes", follow_redirects=False).headers["location"].startswith("/espace/connexion")


def test_a_lost_phone_the_coordination_removes_the_second_factor(required, second_browser, db, demo, make_account):
    sign_in(required, COORDINATOR)
    _enrol(required)
    colleague = db.scalars(select(User).where(User.email == COORDINATOR)).one()
    # Another coordinator of the Grand Arras, strong already (its own second factor given).
    make_account("coordinator", ["grand-arras"])
    other = db.scalars(select(User).where(User.email.like("coordinator%@test.example.fr"))).one()
    secret, _ = open_session(db, required.app.state.settings, other, strong=True)
    db.commit()
    second_browser.cookies.set(SESSION_COOKIE, secret)
    page = second_browser.get(f"/espace/comptes/{colleague.id}")
    assert "Retirer son second facteur" in page.text
    done = second_browser.post(
        f"/espace/comptes/{colleague.id}/second-facteur", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True
    )
    assert "Second facteur de Coordination Grand Arras retiré" in done.text
    # Its sessions ended; at the next sign-in it enrols again.
    assert required.get("/espace/demandes", follow_redirects=False).headers["location"].startswith("/espace/connexion")
    sign_in(required, COORDINATOR)
    assert required.get("/espace/demandes", follow_redirects=True).url.path == "/espace/second-facteur/activation"
    db.rollback()
    assert db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == colleague.id)).all() == []

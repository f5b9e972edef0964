"""Signing in, sessions, CSRF, lockout, API tokens, and who may create accounts."""

import pytest

from app.accounts.schemas import UserCreate
from app.accounts.service import create_user

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def claire(db):
    """Claire, coordinator of the Grand Arras, signing in with a password (e-mail in mixed case)."""
    user = create_user(
        db,
        UserCreate(
            email="Claire@CPTS.example.fr",
            display_name="Claire",
            role="coordinator",
            password=PASSWORD,
            cpts=["grand-arras"],
        ),
        None,
    )
    db.commit()  # services leave committing to the caller
    return user


def login(client, email="claire@cpts.example.fr", password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_login_sets_a_secure_session_cookie_and_returns_a_csrf_token(client, claire):
    response = login(client, email="CLAIRE@cpts.example.fr")
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "orientation_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    body = response.json()
    assert body["user"]["role"] == "coordinator" and body["user"]["cpts"] == ["grand-arras"]
    assert len(body["csrf_token"]) > 20
    assert client.get("/api/v1/auth/me").json()["email"] == "claire@cpts.example.fr"


def test_changes_through_the_cookie_need_the_csrf_token(client, claire):
    csrf = login(client).json()["csrf_token"]
    assert client.post("/api/v1/auth/tokens", json={"name": "x"}).status_code == 403
    bad = client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "nope"})
    assert bad.status_code == 403
    good = client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert good.status_code == 201


def test_logout_ends_the_session(client, claire):
    csrf = login(client).json()["csrf_token"]
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_and_unknown_email_get_the_same_answer(client, claire):
    wrong = login(client, password="wrong password!")
    unknown = login(client, email="nobody@cpts.example.fr")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_five_failures_make_the_next_try_wait_a_moment_not_a_quarter_of_an_hour(client, claire):
    from datetime import timedelta

    from app.core.database import utcnow

    now = utcnow()
    client.app.state.clock = lambda: now
    for _ in range(5):
        assert login(client, password="wrong password!").status_code == 401
    waiting = login(client)
    assert waiting.status_code == 429
    assert int(waiting.headers["retry-after"]) <= 60
    now += timedelta(seconds=int(waiting.headers["retry-after"]))
    assert login(client).status_code == 200


def test_expired_session_is_refused(client, claire, db):
    from sqlalchemy import update

    from app.accounts.models import WebSession
    from app.core.database import utcnow

    login(client)
    db.execute(update(WebSession).values(expires_at=utcnow()))
    db.commit()
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert "expirée" in response.json()["message"]


def test_api_token_is_shown_once_stored_hashed_and_revocable(client, claire, db):
    from app.accounts.models import ApiToken

    csrf = login(client).json()["csrf_token"]
    created = client.post("/api/v1/auth/tokens", json={"name": "export"}, headers={"X-CSRF-Token": csrf}).json()
    token = created["token"]
    assert token.startswith("orn_")
    assert all(token not in (t.token_hash or "") for t in db.query(ApiToken).all())
    db.rollback()  # end the test's read: on SQLite it would hold the app's writers back
    assert "token" not in client.get("/api/v1/auth/tokens").json()[0]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    # A token needs no CSRF token: no browser sends it on its own.
    assert client.post("/api/v1/auth/tokens", json={"name": "y"}, headers=bearer).status_code == 201
    assert client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=bearer).status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401


def test_deactivated_user_is_locked_out(client, make_account, claire):
    admin = make_account("admin")
    token = make_account("coordinator", ["grand-arras"])
    me = client.get("/api/v1/auth/me", headers=token).json()
    assert client.post(f"/api/v1/users/{me['id']}/deactivate", headers=admin).status_code == 200
    assert client.get("/api/v1/auth/me", headers=token).status_code == 401


def test_coordinator_creates_accounts_in_its_own_cpts_only(client, make_account):
    coordinator = make_account("coordinator", ["grand-arras"])
    body = {"email": "pharma@example.fr", "display_name": "Pharmacie", "role": "professional", "password": PASSWORD}
    assert client.post("/api/v1/users", json={**body, "cpts": ["grand-arras"]}, headers=coordinator).status_code == 201
    other = client.post(
        "/api/v1/users", json={**body, "email": "p2@example.fr", "cpts": ["provence-sante"]}, headers=coordinator
    )
    assert other.status_code == 403
    admin = client.post("/api/v1/users", json={**body, "email": "a@example.fr", "role": "admin"}, headers=coordinator)
    assert admin.status_code == 403
    again = client.post("/api/v1/users", json={**body, "cpts": ["grand-arras"]}, headers=coordinator)
    assert again.status_code == 409


def test_weak_password_is_refused_in_french(client, make_account):
    admin = make_account("admin")
    response = client.post(
        "/api/v1/users",
        json={"email": "x@example.fr", "display_name": "Xavier", "role": "admin", "password": "short"},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["fields"][0] == {
        "field": "password",
        "message": "Mot de passe trop court : 12 caractères au moins.",
    }


def test_coordinator_lists_only_the_users_of_its_cpts(client, make_account):
    ours = make_account("coordinator", ["grand-arras"])
    make_account("professional", ["provence-sante"])
    emails = [u["email"] for u in client.get("/api/v1/users", headers=ours).json()]
    assert all(not e.startswith("professional") for e in emails)

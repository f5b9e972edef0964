"""Accounts in the workspace over HTTP: invitations and "Mot de passe oublié" (single-use,
expiring links through the outbox), one's password, sessions and tokens, deactivation, and a
coordinator confined to the accounts of its CPTS."""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from stdnum import luhn

from app.accounts.models import User, WebSession
from app.audit.models import AuditEvent
from app.core.database import utcnow
from app.notifications.models import OutboxMessage
from tests.helpers.workspace import COORDINATOR, OTHER_COORDINATOR, PROFESSIONAL, csrf_of, flash_of, sign_in

NEW_PASSWORD = "un mot de passe tout neuf"


@pytest.fixture
def second(client):
    """A second browser on the same app."""
    with TestClient(client.app) as other:
        yield other


def _csrf(client, path: str = "/espace/mon-compte") -> str:
    return csrf_of(client.get(path).text)


def _invite(client, email: str, role: str = "professional") -> object:
    return client.post(
        "/espace/comptes",
        data={
            "csrf_token": _csrf(client, "/espace/comptes"),
            "email": email,
            "display_name": "Léa Martin",
            "role": role,
        },
        follow_redirects=True,
    )


def _link_in(db, recipient: str, kind: str) -> str:
    db.rollback()
    message = db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.recipient == recipient, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None, f"no {kind} e-mail for {recipient}"
    return re.search(r"http://\S+(/comptes/\S+)", message.body).group(1)


def _choose(client, path: str, password: str = NEW_PASSWORD):
    return client.post(path, data={"password": password, "confirmation": password})


def _signs_in(client, email: str, password: str) -> bool:
    client.cookies.clear()
    response = client.post("/espace/connexion", data={"email": email, "password": password}, follow_redirects=False)
    return response.status_code == 303


def _later(monkeypatch, **delta) -> None:
    moved = utcnow() + timedelta(**delta)
    monkeypatch.setattr("app.accounts.links.utcnow", lambda: moved)


def test_an_invitation_link_chooses_the_password_once(client, db, demo):
    sign_in(client, COORDINATOR)
    page = _invite(client, "lea.martin@example.fr")
    assert "Invitation envoyée à lea.martin@example.fr" in flash_of(page.text)
    invited = db.scalars(select(User).where(User.email == "lea.martin@example.fr")).one()
    assert invited.password_hash is None and {m.territory.slug for m in invited.memberships} == {"grand-arras"}
    link = _link_in(db, "lea.martin@example.fr", "account_invitation")

    client.cookies.clear()
    assert "lea.martin@example.fr" in client.get(link).text
    assert "12 caractères" in _choose(client, link, "court").text  # refused, the link still valid
    done = _choose(client, link)
    assert done.status_code == 200 and "Votre mot de passe est enregistré" in done.text
    # Spent: neither the page nor the form work again.
    assert client.get(link).status_code == 404
    assert _choose(client, link, "encore un autre mot de passe").status_code == 404
    assert _signs_in(client, "lea.martin@example.fr", NEW_PASSWORD)
    assert not _signs_in(client, "lea.martin@example.fr", "encore un autre mot de passe")
    db.rollback()
    actions = set(
        db.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "user", AuditEvent.object_id == str(invited.id))
        )
    )
    assert {"user.invite", "user.password_invitation"} <= actions


def test_an_invitation_link_expires(client, db, demo, monkeypatch):
    sign_in(client, COORDINATOR)
    _invite(client, "tardif@example.fr")
    link = _link_in(db, "tardif@example.fr", "account_invitation")
    client.cookies.clear()
    _later(monkeypatch, hours=47)
    assert client.get(link).status_code == 200
    _later(monkeypatch, hours=48, seconds=1)
    expired = client.get(link)
    assert expired.status_code == 404 and "Ce lien a expiré" in expired.text
    assert _choose(client, link).status_code == 404
    db.rollback()
    assert db.scalars(select(User.password_hash).where(User.email == "tardif@example.fr")).one() is None


def test_forgotten_password_answers_the_same_for_an_unknown_address(client, db, demo):
    known = client.post("/espace/mot-de-passe-oublie", data={"email": PROFESSIONAL})
    unknown = client.post("/espace/mot-de-passe-oublie", data={"email": "personne@example.fr"})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert "Si un compte actif utilise cette adresse" in known.text
    db.rollback()
    recipients = list(db.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "password_reset")))
    assert recipients == [PROFESSIONAL]


def test_a_reset_link_works_once_ends_the_sessions_and_expires(client, second, db, demo, monkeypatch):
    sign_in(second, PROFESSIONAL)  # a browser left signed in elsewhere
    assert second.get("/espace/mes-demandes", follow_redirects=False).status_code == 200
    client.post("/espace/mot-de-passe-oublie", data={"email": PROFESSIONAL})
    link = _link_in(db, PROFESSIONAL, "password_reset")
    assert link.startswith("/comptes/reinitialisation/")
    assert _choose(client, link).status_code == 200
    assert client.get(link).status_code == 404  # spent
    assert _signs_in(client, PROFESSIONAL, NEW_PASSWORD)
    # The other browser's session ended with the reset.
    assert (
        second.get("/espace/mes-demandes", follow_redirects=False).headers["location"].startswith("/espace/connexion")
    )
    # A new link, an hour and a second later: expired.
    client.post("/espace/mot-de-passe-oublie", data={"email": PROFESSIONAL})
    link = _link_in(db, PROFESSIONAL, "password_reset")
    _later(monkeypatch, minutes=60, seconds=1)
    assert "Ce lien a expiré" in client.get(link).text
    assert _choose(client, link, "encore un autre mot de passe").status_code == 404


def test_an_invitation_link_does_not_reset_and_a_reset_link_does_not_invite(client, db, demo):
    client.post("/espace/mot-de-passe-oublie", data={"email": PROFESSIONAL})
    link = _link_in(db, PROFESSIONAL, "password_reset")
    assert client.get(link.replace("reinitialisation", "invitation")).status_code == 404


def test_forgotten_password_is_rate_limited_like_signing_in(settings, engine, demo):
    from app.main import create_app

    app = create_app(settings.model_copy(update={"intake_per_minute": 3}))
    with TestClient(app) as limited:
        answers = [
            limited.post("/espace/mot-de-passe-oublie", data={"email": f"x{n}@example.fr"}).status_code
            for n in range(4)
        ]
    app.state.engine.dispose()
    assert answers == [200, 200, 200, 429]


def test_changing_ones_password_ends_the_other_sessions(client, second, db, demo):
    sign_in(client, PROFESSIONAL)
    sign_in(second, PROFESSIONAL)
    wrong = client.post(
        "/espace/mon-compte/mot-de-passe",
        data={
            "csrf_token": _csrf(client),
            "current_password": "pas le bon",
            "password": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
        },
        follow_redirects=True,
    )
    assert "Mot de passe actuel incorrect" in flash_of(wrong.text)
    assert second.get("/espace/mes-demandes", follow_redirects=False).status_code == 200
    from app.demo_people import DEMO_PASSWORD

    done = client.post(
        "/espace/mon-compte/mot-de-passe",
        data={
            "csrf_token": _csrf(client),
            "current_password": DEMO_PASSWORD,
            "password": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
        },
        follow_redirects=True,
    )
    assert "vos autres sessions sont fermées" in flash_of(done.text)
    assert client.get("/espace/mes-demandes", follow_redirects=False).status_code == 200  # this one stays
    assert second.get("/espace/mes-demandes", follow_redirects=False).status_code == 303
    assert _signs_in(second, PROFESSIONAL, NEW_PASSWORD)
    assert not _signs_in(second, PROFESSIONAL, DEMO_PASSWORD)


def test_ones_sessions_are_listed_and_another_one_closed(client, second, db, demo):
    sign_in(client, PROFESSIONAL)
    sign_in(second, PROFESSIONAL)
    page = client.get("/espace/mon-compte").text
    closable = re.findall(r"/espace/mon-compte/sessions/(\d+)/fermer", page)
    assert len(closable) == 1 and "cette session" in page  # the other browser's; this one is marked
    closed = client.post(
        f"/espace/mon-compte/sessions/{closable[0]}/fermer", data={"csrf_token": _csrf(client)}, follow_redirects=True
    )
    assert "Session fermée" in flash_of(closed.text)
    assert second.get("/espace/mes-demandes", follow_redirects=False).status_code == 303
    assert client.get("/espace/mes-demandes", follow_redirects=False).status_code == 200
    # Somebody else's session: unknown.
    sign_in(second, COORDINATOR)
    theirs = db.scalars(select(WebSession.id).join(User).where(User.email == COORDINATOR)).first()
    refused = client.post(f"/espace/mon-compte/sessions/{theirs}/fermer", data={"csrf_token": _csrf(client)})
    assert refused.status_code == 404
    assert second.get("/espace/demandes", follow_redirects=False).status_code == 200


def test_a_token_made_on_the_page_works_until_revoked(client, db, demo):
    sign_in(client, PROFESSIONAL)
    made = client.post("/espace/mon-compte/jetons", data={"csrf_token": _csrf(client), "name": "export"})
    secret = re.search(r"<code>(orn_[^<]+)</code>", made.text).group(1)
    api = TestClient(client.app)
    assert api.get("/api/v1/requests", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    token_id = re.search(r"/espace/mon-compte/jetons/(\d+)/revoquer", made.text).group(1)
    revoked = client.post(
        f"/espace/mon-compte/jetons/{token_id}/revoquer", data={"csrf_token": _csrf(client)}, follow_redirects=True
    )
    assert "révoqué" in flash_of(revoked.text)
    assert api.get("/api/v1/requests", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_deactivating_an_account_ends_its_open_session(client, second, db, demo):
    sign_in(second, PROFESSIONAL)
    assert second.get("/espace/mes-demandes", follow_redirects=False).status_code == 200
    pharmacist = db.scalars(select(User).where(User.email == PROFESSIONAL)).one()
    sign_in(client, COORDINATOR)
    done = client.post(
        f"/espace/comptes/{pharmacist.id}/desactiver",
        data={"csrf_token": _csrf(client, "/espace/comptes")},
        follow_redirects=True,
    )
    assert "désactivé : ses sessions sont fermées" in flash_of(done.text)
    assert (
        second.get("/espace/mes-demandes", follow_redirects=False).headers["location"].startswith("/espace/connexion")
    )
    db.rollback()
    assert db.scalars(select(WebSession).where(WebSession.user_id == pharmacist.id)).all() == []
    # Reactivated, it signs in again.
    client.post(f"/espace/comptes/{pharmacist.id}/reactiver", data={"csrf_token": _csrf(client, "/espace/comptes")})
    from app.demo_people import DEMO_PASSWORD

    assert _signs_in(second, PROFESSIONAL, DEMO_PASSWORD)


def test_a_coordinator_edits_an_account_of_its_cpts(client, db, demo):
    pharmacist = db.scalars(select(User).where(User.email == PROFESSIONAL)).one()
    sign_in(client, COORDINATOR)
    saved = client.post(
        f"/espace/comptes/{pharmacist.id}",
        data={
            "csrf_token": _csrf(client, "/espace/comptes"),
            "display_name": "Pharmacie du Beffroi",
            "role": "coordinator",
        },
        follow_redirects=True,
    )
    assert "Compte de Pharmacie du Beffroi enregistré" in flash_of(saved.text)
    db.rollback()
    db.refresh(pharmacist)
    assert (pharmacist.display_name, pharmacist.role, pharmacist.organisation_id) == (
        "Pharmacie du Beffroi",
        "coordinator",
        None,
    )
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "user.update")).first() is not None


def test_a_coordinator_manages_neither_another_cptss_accounts_nor_an_admin(client, db, demo, make_account):
    provence_pharmacist = client.get("/api/v1/auth/me", headers=make_account("professional", ["provence-sante"])).json()
    admin = db.scalars(select(User).where(User.role == "admin")).first()
    provence_coordinator = db.scalars(select(User).where(User.email == OTHER_COORDINATOR)).one()
    sign_in(client, COORDINATOR)
    token = _csrf(client, "/espace/comptes")
    listed = client.get("/espace/comptes").text
    assert PROFESSIONAL in listed
    assert OTHER_COORDINATOR not in listed and admin.email not in listed and provence_pharmacist["email"] not in listed
    for user_id in (provence_pharmacist["id"], admin.id, provence_coordinator.id):
        assert client.get(f"/espace/comptes/{user_id}").status_code == 404
        for action in ("desactiver", "reactiver", "invitation"):
            assert client.post(f"/espace/comptes/{user_id}/{action}", data={"csrf_token": token}).status_code == 404
        edit = {"csrf_token": token, "display_name": "Pris", "role": "professional"}
        assert client.post(f"/espace/comptes/{user_id}", data=edit).status_code == 404
    # Nor make an admin, inviting or editing.
    assert _invite(client, "futur.admin@example.fr", role="admin").status_code == 403
    pharmacist = db.scalars(select(User).where(User.email == PROFESSIONAL)).one()
    promoted = client.post(
        f"/espace/comptes/{pharmacist.id}", data={"csrf_token": token, "display_name": "Pharmacie", "role": "admin"}
    )
    assert promoted.status_code == 403
    db.rollback()
    assert db.scalars(select(User).where(User.email == "futur.admin@example.fr")).first() is None
    assert db.get(User, pharmacist.id).role == "professional"
    assert all(db.get(User, i).active for i in (provence_pharmacist["id"], admin.id, provence_coordinator.id))
    assert db.get(User, provence_pharmacist["id"]).display_name != "Pris"


def test_an_admin_creates_a_cpts_and_invites_its_coordinator(client, db, demo):
    sign_in(client, "admin@orientation.example.fr")
    created = client.post(
        "/espace/cpts-du-deploiement",
        data={
            "csrf_token": _csrf(client, "/espace/cpts-du-deploiement"),
            "slug": "cpts-des-collines",
            "name": "CPTS des Collines",
            "finess": "62009999" + luhn.calc_check_digit("62009999"),
            "phone": "03 21 00 00 09",
            "email": "contact@collines.example.fr",
            "insee_codes": "62119 62310",
        },
        follow_redirects=True,
    )
    assert "CPTS des Collines créée" in flash_of(created.text), created.text
    territory_id = re.search(r'<option value="(\d+)"[^>]*>CPTS des Collines</option>', created.text).group(1)
    client.post("/espace/cpts", data={"csrf_token": _csrf(client, "/espace/comptes"), "territory_id": territory_id})
    _invite(client, "coordination@collines.example.fr", role="coordinator")
    db.rollback()
    coordinator = db.scalars(select(User).where(User.email == "coordination@collines.example.fr")).one()
    assert coordinator.role == "coordinator"
    assert [m.territory.slug for m in coordinator.memberships] == ["cpts-des-collines"]


def test_renaming_a_doctors_account_keeps_its_registry_entry(client, db, demo):
    from tests.helpers.workspace import DOCTOR

    doctor = db.scalars(select(User).where(User.email == DOCTOR)).one()
    linked = doctor.doctor_id
    sign_in(client, COORDINATOR)
    saved = client.post(
        f"/espace/comptes/{doctor.id}",
        data={"csrf_token": _csrf(client, "/espace/comptes"), "display_name": "Dr Martin", "role": "doctor"},
        follow_redirects=True,
    )
    assert "Compte de Dr Martin enregistré" in flash_of(saved.text)
    db.rollback()
    assert db.get(User, doctor.id).doctor_id == linked is not None

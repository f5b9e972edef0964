"""Issue 10, items 1 and 9: the SAS interfaces are closed unless the operator opens them; a
regulator books only with the signed, short-lived link the authenticated feed gave for that slot
(the SAS is national: any CPTS's slot the SAS sees); deactivating an account is decided per
CPTS; a pattern's times are served as the OpenAPI document declares them."""

import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import Membership, User
from app.accounts.security import hash_password
from app.audit.models import AuditEvent
from app.demo_people import demo_rpps
from app.main import create_app
from app.snp.models import Booking, Slot
from app.territories.models import Territory
from tests.helpers.workspace import COORDINATOR, csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("demo_territories")

REGULATOR = "regulation@sas62.example.fr"  # the demo's, a member of the Grand Arras only
BOARD = "/espace/soins-non-programmes"
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
REGULATOR_RESOURCE = {
    "resourceType": "Practitioner",
    "meta": {"source": "urn:oid:1.2.250.1.213.3.6"},
    "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810002673899"}],
    "active": True,
    "name": [{"family": "MARIUS", "given": ["Jules"]}],
    "telecom": [{"system": "email", "value": "jules.marius@test.com"}],
}
CHECKOUT = Path(__file__).resolve().parents[1]
ORIENTATION = str(Path(sys.executable).parent / "orientation")


# --- /fhir is closed by default ---


def test_without_a_setting_fhir_refuses_an_unauthenticated_client(client, db):
    created = client.post("/fhir/Practitioner", json=REGULATOR_RESOURCE, headers=FHIR)
    assert created.status_code == 401
    assert created.json()["resourceType"] == "OperationOutcome"
    assert db.scalars(select(User).where(User.email == "jules.marius@test.com")).first() is None
    start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    end = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    search = client.get(
        f"/fhir/Slot?start=ge{start}&start=le{end}"
        "&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810002909371&status=free",
        headers=FHIR,
    )
    assert search.status_code == 401 and search.json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/metadata").status_code == 401
    assert client.get("/fhir/Slot/1").status_code == 401  # no booking link leaks either


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(database_url: str, extra_env: dict[str, str]) -> tuple[int, str]:
    """`orientation serve` until it answers /healthz, then stopped: its status and stderr."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(CHECKOUT),
        "ORIENTATION_DATABASE_URL": database_url,
        "ORIENTATION_SECRET_KEY": "test-secret-key",
    }
    env.pop("ORIENTATION_FHIR_CLIENT_AUTH", None)  # the default, unless the test sets it
    env |= extra_env
    server = subprocess.Popen(
        [ORIENTATION, "serve", "--port", str(port), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1).status_code
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    return status, stderr


def test_serve_is_closed_by_default_and_warns_loudly_when_opened(database_url, engine):
    status, stderr = _serve(database_url, {})
    assert status == 401 and "OUVERT" not in stderr
    status, stderr = _serve(database_url, {"ORIENTATION_FHIR_CLIENT_AUTH": "none"})
    assert status == 200
    assert "ORIENTATION_FHIR_CLIENT_AUTH=none, /fhir est OUVERT À TOUS" in stderr


def test_an_unknown_client_auth_value_is_refused_at_start(settings):
    from pydantic import ValidationError

    from app.core.settings import Settings

    with pytest.raises(ValidationError):
        Settings(database_url=settings.database_url, fhir_client_auth="TLS ")


# --- Arriving from the SAS: the signed link of the feed ---


@pytest.fixture
def feed(settings, engine):
    """The SAS's view of /fhir, opened on purpose (certificates: test_fhir_transport); same
    secret key as `client`, as on a deployment of several hosts."""
    app = create_app(settings.model_copy(update={"fhir_client_auth": "none"}))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def slots(demo_slots) -> None:
    """The whole demo (conftest's demo_slots, restored): slots, and the regulator's identifier."""


def _sas_slot(db, slug: str = "grand-arras", skip: int = 0) -> Slot:
    territory_id = db.scalars(select(Territory.id).where(Territory.slug == slug)).one()
    slot = db.scalars(
        select(Slot)
        .where(
            Slot.territory_id == territory_id,
            Slot.sas_visible.is_(True),
            Slot.status == "free",
            Slot.appointment_type == "ROUTINE",
            Slot.doctor_id.is_not(None),
            Slot.start_at > datetime.now(UTC) + timedelta(hours=1),
        )
        .order_by(Slot.start_at)
        .offset(skip)
    ).first()
    db.commit()
    return slot


def _feed_link(feed, slot_id: int) -> str:
    """The booking link of the slot's Slot.comment (path and query)."""
    resource = feed.get(f"/fhir/Slot/{slot_id}", headers=FHIR).json()
    assert resource["resourceType"] == "Slot" and resource["status"] == "free"
    return resource["comment"].removeprefix("http://127.0.0.1:8000")


def _book(client, link: str, family_name: str = "Martin"):
    page = client.get(link)
    assert page.status_code == 200, page.text
    data = {
        "csrf_token": csrf_of(page.text),
        "origin": re.search(r'name="origin" value="([^"]*)"', page.text).group(1),
        "sas": re.search(r'name="sas" value="([^"]*)"', page.text).group(1),
        "family_name": family_name,
        "given_name": "Lucie",
        "phone": "06 12 34 56 78",
        "reason": "Fièvre depuis hier",
    }
    return client.post(link.partition("?")[0], data=data, follow_redirects=False)


def test_the_feeds_link_lets_the_regulator_book_that_slot(client, feed, db, slots):
    slot = _sas_slot(db)
    link = _feed_link(feed, slot.id)
    sign_in(client, REGULATOR)
    booked = _book(client, link)
    assert booked.status_code == 200 and "Rendez-vous réservé" in booked.text
    db.rollback()
    assert db.scalars(select(Booking.origin).where(Booking.slot_id == slot.id)).one() == "sas"


def test_typing_origin_sas_or_a_bad_token_is_refused(client, feed, db, slots):
    slot, other = _sas_slot(db), _sas_slot(db, skip=1)
    path = f"{BOARD}/creneaux/{slot.id}/reserver"
    token = _feed_link(feed, slot.id).partition("&sas=")[2]
    expires, _, signature = token.partition(".")
    forged_signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    sign_in(client, REGULATOR)
    for query in [
        "",
        "?origin=sas",
        f"?origin=sas&sas={expires}.{forged_signature}",
        f"?origin=sas&sas={int(expires) + 3600}.{signature}",  # a later expiry, same signature
        f"?origin=sas&sas={expires}",
        "?origin=sas&sas=abc.def",
        "?origin=sas&sas=%D9%A1%D9%A2.x",  # non-ASCII digits
        "?origin=sas&sas=" + "9" * 59,
    ]:
        page = client.get(path + query)
        assert page.status_code == 403, query
        assert "depuis la plateforme SAS" in page.text
    # Another slot's link opens that slot only.
    assert client.get(_feed_link(feed, other.id).replace(f"/{other.id}/", f"/{slot.id}/")).status_code == 403
    # Posting the booking form with a forged token books nothing.
    page = client.get(_feed_link(feed, slot.id))
    refused = client.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            "sas": f"{expires}.{forged_signature}",
            "family_name": "Martin",
            "given_name": "Lucie",
            "phone": "06 12 34 56 78",
            "reason": "Fièvre",
        },
    )
    assert refused.status_code == 403
    db.rollback()
    assert db.scalars(select(Booking).where(Booking.slot_id == slot.id)).first() is None


def test_a_link_expires_an_hour_after_the_feeds_answer(client, feed, db, slots, monkeypatch):
    slot = _sas_slot(db)
    link = _feed_link(feed, slot.id)
    sign_in(client, REGULATOR)
    now = datetime.now(UTC)
    monkeypatch.setattr("app.web.snp_pages.utcnow", lambda: now + timedelta(minutes=59))
    assert client.get(link).status_code == 200
    monkeypatch.setattr("app.web.snp_pages.utcnow", lambda: now + timedelta(minutes=61))
    expired = client.get(link)
    assert expired.status_code == 403 and "durée limitée" in expired.text


def test_a_coordinator_needs_no_link(client, db, slots):
    slot = _sas_slot(db)
    sign_in(client, COORDINATOR)
    assert client.get(f"{BOARD}/creneaux/{slot.id}/reserver").status_code == 200


def test_the_sas_is_national_a_regulator_books_any_cptss_sas_slot(client, feed, db, slots):
    # The demo regulator belongs to the Grand Arras; the SAS's link of a Provence slot works.
    slot = _sas_slot(db, "provence-sante")
    sign_in(client, REGULATOR)
    booked = _book(client, _feed_link(feed, slot.id))
    assert booked.status_code == 200 and "Rendez-vous réservé" in booked.text
    db.rollback()
    booking = db.scalars(select(Booking).where(Booking.slot_id == slot.id)).one()
    assert booking.origin == "sas" and booking.territory_id == slot.territory_id


def test_a_regulator_created_by_the_sas_books_only_through_its_links(client, feed, db, slots):
    assert feed.post("/fhir/Practitioner", json=REGULATOR_RESOURCE, headers=FHIR).status_code == 201
    user = db.scalars(select(User).where(User.email == "jules.marius@test.com")).one()
    user.password_hash = hash_password("un long mot de passe")
    db.commit()
    client.cookies.clear()
    signed = client.post(
        "/espace/connexion",
        data={"email": "jules.marius@test.com", "password": "un long mot de passe"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    slot = _sas_slot(db)
    assert client.get(f"{BOARD}/creneaux/{slot.id}/reserver?origin=sas").status_code == 403
    assert client.get(_feed_link(feed, slot.id)).status_code == 200


# --- Deactivation, per CPTS ---


def _user_id(headers, client) -> int:
    return client.get("/api/v1/auth/me", headers=headers).json()["id"]


def test_a_coordinator_removes_a_user_from_its_cpts_only(client, db, make_account):
    coordinator = make_account("coordinator", ["grand-arras"])
    both = make_account("professional", ["grand-arras", "provence-sante"])
    user_id = _user_id(both, client)
    response = client.post(f"/api/v1/users/{user_id}/deactivate", headers=coordinator)
    assert response.status_code == 200
    assert response.json()["cpts"] == ["provence-sante"] and response.json()["active"] is True
    # Still active in the Provence: its token works and it belongs there only.
    me = client.get("/api/v1/auth/me", headers=both)
    assert me.status_code == 200 and me.json()["cpts"] == ["provence-sante"]
    # The Provence coordinator still sees it; the Grand Arras one no longer does.
    provence = make_account("coordinator", ["provence-sante"])
    assert user_id in [u["id"] for u in client.get("/api/v1/users", headers=provence).json()]
    assert user_id not in [u["id"] for u in client.get("/api/v1/users", headers=coordinator).json()]
    db.rollback()
    assert db.scalars(select(Membership.territory_id).where(Membership.user_id == user_id)).all() == [
        db.scalars(select(Territory.id).where(Territory.slug == "provence-sante")).one()
    ]
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.deactivate")).all()
    grand_arras = db.scalars(select(Territory.id).where(Territory.slug == "grand-arras")).one()
    assert [(e.object_id, e.territory_id) for e in events] == [(str(user_id), grand_arras)]


def test_a_user_of_the_coordinators_cpts_alone_is_switched_off_then_on(client, make_account):
    coordinator = make_account("coordinator", ["grand-arras"])
    doctor_less = make_account("professional", ["grand-arras"])
    user_id = _user_id(doctor_less, client)
    off = client.post(f"/api/v1/users/{user_id}/deactivate", headers=coordinator)
    assert off.status_code == 200 and off.json()["active"] is False
    assert client.get("/api/v1/auth/me", headers=doctor_less).status_code == 401
    on = client.post(f"/api/v1/users/{user_id}/activate", headers=coordinator)
    assert on.status_code == 200 and on.json()["active"] is True
    assert client.get("/api/v1/auth/me", headers=doctor_less).status_code == 200


def test_nobody_deactivates_its_own_account(client, make_account, admin_headers):
    coordinator = make_account("coordinator", ["grand-arras", "provence-sante"])
    for headers in (coordinator, admin_headers):
        refused = client.post(f"/api/v1/users/{_user_id(headers, client)}/deactivate", headers=headers)
        assert refused.status_code == 409 and "propre compte" in refused.json()["message"]
        assert client.get("/api/v1/auth/me", headers=headers).json()["active"] is True


def test_an_admin_deactivates_the_whole_account(client, make_account, admin_headers):
    both = make_account("professional", ["grand-arras", "provence-sante"])
    off = client.post(f"/api/v1/users/{_user_id(both, client)}/deactivate", headers=admin_headers)
    assert off.status_code == 200 and off.json()["active"] is False
    assert off.json()["cpts"] == ["grand-arras", "provence-sante"]
    assert client.get("/api/v1/auth/me", headers=both).status_code == 401


# --- A pattern's times: declared and served alike ---


def test_pattern_times_are_served_as_the_openapi_document_declares(client, make_account):
    coordinator = make_account("coordinator", ["grand-arras"])
    doctor = client.post(
        "/api/v1/doctors",
        headers=coordinator,
        json={
            "cpts": "grand-arras",
            "rpps": demo_rpps(961),
            "family_name": "Vasseur",
            "given_name": "Inès",
            "email": "ines.vasseur@example.fr",
            "locations": [{"address": "3 rue Pasteur", "postcode": "62000", "city": "Arras"}],
        },
    ).json()
    first = (datetime.now(UTC) + timedelta(days=7)).date()
    created = client.post(
        "/api/v1/snp/patterns",
        headers=coordinator,
        json={
            "doctor_id": doctor["id"],
            "weekdays": [first.isoweekday()],
            "start_time": "16:00",
            "end_time": "20:00:00",
            "slot_minutes": 20,
            "first_date": first.isoformat(),
            "weeks": 1,
            "visibility": ["SNP"],
        },
    )
    assert created.status_code == 201, created.text
    assert (created.json()["start_time"], created.json()["end_time"]) == ("16:00", "20:00")
    listed = client.get("/api/v1/snp/patterns", headers=coordinator).json()
    assert [(p["start_time"], p["end_time"]) for p in listed] == [("16:00", "20:00")]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("PatternOut", "PatternCreate"):
        declared = schema[name]["properties"]["start_time"]
        assert declared["type"] == "string" and "format" not in declared, name
        assert re.fullmatch(declared["pattern"], created.json()["start_time"])

"""Issue 12, 7: the same patient submitted twice is one queue row, flagged when it is only
possibly the same person, merged by the coordinator; and no message ever goes out for a
duplicate."""

import html

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.notifications.models import OutboxMessage
from app.requests.models import PatientRequest
from tests.factories import born, submit
from tests.helpers.workspace import COORDINATOR, csrf_of, flash_of, queue_ids, sign_in

pytestmark = pytest.mark.usefixtures("demo")

BIRTH = born(52)
PHONE = "06 98 76 54 32"


def messages_of(db, *request_ids: int) -> list[OutboxMessage]:
    db.rollback()  # a fresh snapshot: what the app committed since
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.request_id.in_(request_ids))))


def a_pair(client) -> tuple[int, int]:
    """A request, then another one with the same phone and birth date under another name
    (the maiden name this time): possibly the same woman."""
    first = submit(client, family_name="Lefebvre", given_name="Odile", birth_date=BIRTH, phone=PHONE)
    second = submit(client, family_name="Carpentier", given_name="Odile", birth_date=BIRTH, phone=PHONE)
    assert first.status_code == 201 and second.status_code == 201, second.text
    assert second.json()["duplicate"] is False  # nothing tells a stranger that this phone is known
    original, duplicate = first.json()["id"], second.json()["id"]
    return original, duplicate


def kinds(messages: list[OutboxMessage]) -> list[tuple[int, str]]:
    return [(m.request_id, m.kind) for m in messages]


def test_a_possible_duplicate_is_one_flagged_queue_row_and_merging_it_sends_nothing(client, db):
    original, duplicate = a_pair(client)
    # The first submission's receipt only: none for the possible duplicate (it would reach the
    # same phone).
    assert kinds(messages_of(db, original, duplicate)) == [(original, "receipt")]
    sign_in(client, COORDINATOR)
    queue = client.get("/espace/demandes?q=odile").text
    assert queue_ids(queue) == [original]
    assert "possible doublon" in queue

    page = client.get(f"/espace/demandes/{original}").text
    assert 'id="possible-duplicates"' in page and "CARPENTIER Odile" in page
    assert f'action="/espace/demandes/{duplicate}/fusion"' in page
    merged = client.post(f"/espace/demandes/{duplicate}/fusion", data={"csrf_token": csrf_of(page)})
    assert merged.url.path == f"/espace/demandes/{original}"
    assert "fusionnée" in flash_of(merged.text) and 'id="possible-duplicates"' not in merged.text

    db.rollback()
    closed = db.get(PatientRequest, duplicate)
    assert (closed.status, closed.close_reason) == ("closed", "duplicate")
    assert db.get(PatientRequest, original).status == "received"
    assert kinds(messages_of(db, original, duplicate)) == [(original, "receipt")]  # nothing for the merge
    merges = db.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "request.merge")).all()
    assert sorted(merges) == sorted([str(original), str(duplicate)])
    # The merged request's own follow-up says where it went, not "closed".
    assert "Doublon" in client.get(f"/espace/demandes/{duplicate}").text


def test_the_same_person_again_updates_the_request_and_sends_nothing(client, db):
    first = submit(client, family_name="Lefèvre", given_name="Éloïse", birth_date=BIRTH, phone=PHONE).json()
    again = submit(
        client,
        family_name="LEFEVRE",
        given_name="eloise",
        birth_date=BIRTH,
        phone="07 81 22 33 44",
        ald=True,
        email="eloise@example.fr",
        comment="Diabète",
    ).json()
    assert again["id"] == first["id"] and again["duplicate"] is True
    db.rollback()
    stored = db.get(PatientRequest, first["id"])
    assert (stored.phone, stored.ald, stored.email, stored.comment) == (
        "+33781223344",
        True,
        "eloise@example.fr",
        "Diabète",
    )
    assert db.scalar(select(PatientRequest.id).where(PatientRequest.family_name.ilike("lef%vre")).offset(1)) is None
    # Only the receipts (the second carries the new follow-up link): nothing else goes out.
    assert kinds(messages_of(db, first["id"])) == [(first["id"], "receipt")] * 2
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/demandes/{first['id']}").text
    assert "Nouvelle demande du même patient" in page


def test_not_a_duplicate_gives_the_request_its_own_row(client):
    original, duplicate = a_pair(client)
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/demandes/{duplicate}").text
    assert 'id="possible-duplicate-of"' in page and f"n° {original}" in page
    kept = client.post(f"/espace/demandes/{duplicate}/pas-un-doublon", data={"csrf_token": csrf_of(page)})
    assert "propre ligne" in flash_of(kept.text)
    queue = client.get("/espace/demandes?q=odile").text
    assert sorted(queue_ids(queue)) == sorted([original, duplicate]) and "possible doublon" not in queue


def test_merging_a_request_that_is_no_duplicate_is_refused(client):
    original, _ = a_pair(client)
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/demandes/{original}").text
    refused = client.post(f"/espace/demandes/{original}/fusion", data={"csrf_token": csrf_of(page)})
    assert "doublon d'aucune autre" in html.unescape(flash_of(refused.text))


def test_another_birth_date_on_the_same_phone_is_another_patient(client):
    """A parent's phone for two children: two rows, no flag."""
    one = submit(client, family_name="Martin", given_name="Lou", birth_date=born(8), phone=PHONE).json()["id"]
    two = submit(client, family_name="Martin", given_name="Zoé", birth_date=born(11), phone=PHONE).json()["id"]
    sign_in(client, COORDINATOR)
    queue = client.get("/espace/demandes?q=martin").text
    assert {one, two} <= set(queue_ids(queue)) and "possible doublon" not in queue


def test_closing_as_a_duplicate_never_messages_the_patient(client, db, coordinator):
    request_id = submit(client, given_name="Hugo", birth_date=born(30)).json()["id"]
    closed = client.post(
        f"/api/v1/requests/{request_id}/transitions",
        json={"to": "closed", "reason": "duplicate", "notify": True},
        headers=coordinator,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["close_reason"] == "duplicate"
    assert kinds(messages_of(db, request_id)) == [(request_id, "receipt")]  # the intake's, nothing since


def test_the_api_says_which_request_a_possible_duplicate_may_duplicate(client, coordinator):
    original, duplicate = a_pair(client)
    body = client.get(f"/api/v1/requests/{duplicate}", headers=coordinator).json()
    assert body["duplicate_of_id"] == original
    listed = [r["id"] for r in client.get("/api/v1/requests?per_page=100", headers=coordinator).json()["items"]]
    assert original in listed and duplicate not in listed

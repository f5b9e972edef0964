"""Retention of personal data (issue 13, item 1): what patients were told is erased is erased,
on time, and what the indicators count survives. The clock is moved, never waited for:
`retention.run` takes `now`."""

import json
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.models import ApiToken, User
from app.audit.models import AuditEvent
from app.core.database import for_writing
from app.geocoding.cache import cache_key
from app.geocoding.models import GeocodeCacheEntry
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.privacy import retention
from app.requests.models import PatientRequest, RequestEvent
from app.snp.models import Booking
from tests import factories
from tests.helpers import cli
from tests.helpers.database import take_snapshot

# People only these tests use: any of these strings left in the database after the purge is a leak.
PATIENTS = [
    {"family_name": "Quennehen", "given_name": "Zéphyrine", "phone": "06 71 82 93 04", "years": 72, "ald": True},
    {"family_name": "Vandewalle", "given_name": "Hortense", "phone": "06 71 82 93 05", "years": 45, "ald": False},
    {"family_name": "Delattre", "given_name": "Aurélien", "phone": "06 71 82 93 06", "years": 31, "ald": False},
]
NOTE = "Rappeler Mme Quennehen le soir, fragile"


def months_later(months: int, days: int = 0) -> datetime:
    return retention.months_before(datetime.now(UTC), -months) + timedelta(days=days)


@pytest.fixture
def write_session(engine):
    with sessionmaker(bind=for_writing(engine), expire_on_commit=False)() as session:
        yield session


def _leaks(engine, needles: list[str]) -> list[tuple[str, str]]:
    """(table, needle) for every needle found in any text of any row."""
    found = []
    for table, rows in take_snapshot(engine).rows.items():
        dumped = json.dumps(rows, default=str, ensure_ascii=False).lower()
        found += [(table, needle) for needle in needles if needle.lower() in dumped]
    return found


def _submit(client, patient: dict, **changes) -> int:
    response = factories.submit(
        client,
        family_name=patient["family_name"],
        given_name=patient["given_name"],
        phone=patient["phone"],
        email=f"{patient['given_name'].lower()}.{patient['family_name'].lower()}@example.fr",
        birth_date=factories.born(patient["years"]),
        ald=patient["ald"],
        **changes,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _indicators(client, coordinator) -> dict:
    today = date.today()
    response = client.get(
        "/api/v1/territories/grand-arras/indicators",
        params={"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()},
        headers=coordinator,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _closed_and_matched(client, coordinator) -> tuple[int, int, int]:
    """A matched request (list sent, a note), a closed one, an open one; their ids."""
    doctor = factories.add_doctor(client, coordinator, 1, "Arras", "62000")
    matched, closed, still_open = (_submit(client, p) for p in PATIENTS)
    assert client.post(f"/api/v1/requests/{matched}/notes", json={"text": NOTE}, headers=coordinator).status_code < 300
    sent = client.post(f"/api/v1/requests/{matched}/send-list", json={"doctor_ids": [doctor]}, headers=coordinator)
    assert sent.status_code == 200, sent.text
    moved = client.post(
        f"/api/v1/requests/{matched}/transitions", json={"to": "matched", "doctor_id": doctor}, headers=coordinator
    )
    assert moved.status_code == 200, moved.text
    moved = client.post(
        f"/api/v1/requests/{closed}/transitions", json={"to": "closed", "reason": "found_alone"}, headers=coordinator
    )
    assert moved.status_code == 200, moved.text
    return matched, closed, still_open


def test_thirteen_months_after_closure_the_personal_data_is_gone_and_the_indicators_are_the_same(
    client, demo_territories, coordinator, engine, write_session, settings
):
    matched, closed, still_open = _closed_and_matched(client, coordinator)
    before = _indicators(client, coordinator)
    assert before["requests"]["matched"] == 1 and before["received_by_group"]["ald"] == 1

    # Eleven months on, nothing is due yet.
    early = retention.run(write_session, settings, months_later(11))
    assert early.requests_closed == 0
    assert write_session.get(PatientRequest, matched).family_name == "Quennehen"

    counts = retention.run(write_session, settings, months_later(13))
    assert counts.requests_closed == 2

    write_session.expire_all()
    for request_id in (matched, closed):
        request = write_session.get(PatientRequest, request_id)
        assert (request.family_name, request.given_name, request.phone) == ("", "", "")
        assert request.email is None and request.address is None and request.latitude is None
        assert request.erased_at is not None and request.identity_key == ""
        assert request.birth_date.month == 1 and request.birth_date.day == 1 and request.birth_date.year % 10 == 0
    assert write_session.get(PatientRequest, matched).age_band == "70-79"
    assert write_session.get(PatientRequest, closed).age_band == "40-49"
    notes = write_session.scalars(select(RequestEvent.text).where(RequestEvent.request_id == matched)).all()
    assert all(note is None for note in notes)
    messages = write_session.scalars(select(OutboxMessage).where(OutboxMessage.request_id == matched)).all()
    assert messages and all(m.body == "" and m.recipient == "" for m in messages)

    # The open request keeps everything; the two closed people are nowhere in the database.
    assert write_session.get(PatientRequest, still_open).family_name == "Delattre"
    needles = [value for p in PATIENTS[:2] for value in (p["family_name"], p["given_name"], p["phone"])]
    assert _leaks(engine, needles + [NOTE, "quennehen@example.fr"]) == []

    # The figures of that period are unchanged.
    assert _indicators(client, coordinator) == before

    # The run is in the audit trail, with its counts and nothing else.
    # The latest run's event: by id, since PostgreSQL returns rows in no set order without ORDER BY.
    event = write_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "retention.run").order_by(AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert event.details["requests_closed"] == 2 and event.actor == "retention"
    listed = client.get("/api/v1/audit", params={"object_type": "retention"}, headers=factories_admin(write_session))
    assert listed.status_code == 200 and listed.json()[0]["details"]["requests_closed"] == 2


def factories_admin(session: Session) -> dict[str, str]:
    return factories.account_headers(session, "admin", 9001, ())


def test_a_second_run_changes_nothing_and_a_dry_run_only_counts(
    client, demo_territories, coordinator, engine, write_session, settings
):
    _closed_and_matched(client, coordinator)
    later = months_later(13)
    planned = retention.run(write_session, settings, later, dry_run=True)
    assert planned.requests_closed == 2
    assert write_session.scalars(select(PatientRequest.family_name)).all().count("") == 0
    assert not write_session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run")).all()

    assert retention.run(write_session, settings, later).requests_closed == 2
    rows = take_snapshot(engine).rows
    again = retention.run(write_session, settings, later + timedelta(days=1))
    assert set(again.as_dict().values()) == {0}
    after = take_snapshot(engine).rows
    for table in rows:
        if table != "audit_events":
            assert after[table] == rows[table], table
    assert len(after["audit_events"]) == len(rows["audit_events"]) + 1  # the second run's event only


def test_out_of_territory_and_abandoned_requests_go_three_months_after_their_last_event(
    client, demo_territories, coordinator, write_session, settings
):
    outside = _submit(client, PATIENTS[0], postcode="62217", city="Mercatel")
    withdrawn = _submit(client, PATIENTS[1])
    moved = client.post(
        f"/api/v1/requests/{withdrawn}/transitions", json={"to": "closed", "reason": "withdrew"}, headers=coordinator
    )
    assert moved.status_code == 200, moved.text
    assert write_session.get(PatientRequest, outside).status == "out_of_territory"

    assert retention.run(write_session, settings, months_later(2, days=27)).requests_abandoned == 0
    assert retention.run(write_session, settings, months_later(3, days=1)).requests_abandoned == 2
    write_session.expire_all()
    assert write_session.get(PatientRequest, outside).phone == ""
    assert write_session.get(PatientRequest, withdrawn).family_name == ""


def test_the_geocoding_of_a_patients_address_goes_with_the_request(
    client, demo_territories, coordinator, write_session, settings
):
    request_id = _submit(client, PATIENTS[1])
    moved = client.post(
        f"/api/v1/requests/{request_id}/transitions", json={"to": "closed", "reason": "other"}, headers=coordinator
    )
    assert moved.status_code == 200
    request = write_session.get(PatientRequest, request_id)
    key = cache_key(request.address, request.postcode, request.commune_name)
    fresh = datetime.now(UTC)
    doctors_at = months_later(12, days=20)  # geocoded lately, as of the run below
    write_session.add_all(
        [
            GeocodeCacheEntry(
                key=key,
                insee_code=request.insee_code,
                postcode="62217",
                latitude=50.1,
                longitude=2.8,
                precision="housenumber",
                score=0.9,
                created_at=fresh,
            ),
            GeocodeCacheEntry(
                key="d" * 64,
                insee_code="62041",
                postcode="62000",
                latitude=50.2,
                longitude=2.7,
                precision="housenumber",
                score=0.9,
                created_at=doctors_at,
            ),
        ]
    )
    write_session.commit()

    retention.run(write_session, settings, months_later(13))
    write_session.expire_all()
    assert write_session.get(GeocodeCacheEntry, key) is None
    # A doctor's practice, say: kept until GEOCODE_CACHE_DAYS, then dropped as stale.
    assert write_session.get(GeocodeCacheEntry, "d" * 64) is not None
    assert retention.run(write_session, settings, doctors_at + timedelta(days=181)).geocode_entries == 1


def test_an_unscheduled_care_booking_loses_the_patient_three_months_after_the_slot(demo, db, write_session, settings):
    from app.doctors.models import Doctor

    doctor = db.scalars(select(Doctor).order_by(Doctor.id)).first()
    slot_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    slot_id = factories.make_slot(db, doctor.id, slot_at, status="booked")
    booking = Booking(
        slot_id=slot_id,
        territory_id=doctor.territory_id,
        family_name="Quennehen",
        given_name="Zéphyrine",
        phone="0671829304",
        email="z@example.fr",
        reason="Douleur thoracique",
        origin="cpts",
    )
    write_session.add(booking)
    write_session.commit()

    assert (
        retention.run(write_session, settings, retention.months_before(slot_at, -3) - timedelta(days=1)).snp_bookings
        == 0
    )
    assert (
        retention.run(write_session, settings, retention.months_before(slot_at, -3) + timedelta(days=1)).snp_bookings
        == 1
    )
    write_session.expire_all()
    erased = write_session.get(Booking, booking.id)
    assert (erased.family_name, erased.given_name, erased.phone, erased.email, erased.reason) == ("", "", "", None, "")
    assert erased.status == "booked" and erased.slot_id == slot_id  # still counted as a booking


def _message(session, status: str, sent_days_ago: int | None, created_days_ago: int, n: int) -> int:
    now = datetime.now(UTC)
    message = OutboxMessage(
        key=f"retention-{n}",
        kind="outcome",
        channel="email",
        recipient=f"patient{n}@example.fr",
        subject="Votre demande",
        body=f"Bonjour Mme Quennehen {n}",
        status=status,
        created_at=now - timedelta(days=created_days_ago),
        next_attempt_at=now,
        sent_at=now - timedelta(days=sent_days_ago) if sent_days_ago is not None else None,
    )
    session.add(message)
    session.commit()
    return message.id


def test_outbox_bodies_are_erased_thirty_days_after_delivery_or_final_failure(engine, write_session, settings):
    sent_long_ago = _message(write_session, "sent", 31, 31, 1)
    failed_long_ago = _message(write_session, "failed", None, 31, 2)
    sent_lately = _message(write_session, "sent", 29, 40, 3)
    pending = _message(write_session, "pending", None, 60, 4)

    assert retention.run(write_session, settings, datetime.now(UTC)).outbox_messages == 2
    write_session.expire_all()
    for message_id in (sent_long_ago, failed_long_ago):
        message = write_session.get(OutboxMessage, message_id)
        assert (message.body, message.recipient, message.subject) == ("", "", None)
        assert message.status in ("sent", "failed")  # the delivery record stays
    for message_id in (sent_lately, pending):
        assert write_session.get(OutboxMessage, message_id).body.startswith("Bonjour")


def test_the_audit_trail_drops_events_older_than_three_years_and_stays_append_only(engine, write_session, settings):
    now = datetime.now(UTC)
    for n, age in enumerate((timedelta(days=3 * 365 + 5), timedelta(days=3 * 365 - 5))):
        write_session.add(
            AuditEvent(
                at=now - age,
                actor="coordination@example.fr",
                actor_role="coordinator",
                territory_id=None,
                action="read",
                object_type="request",
                object_id=str(n),
            )
        )
    write_session.commit()

    assert retention.run(write_session, settings, now).audit_events == 1
    kept = write_session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "read")).all()
    assert kept == ["1"]

    if engine.dialect.name == "postgresql":
        # Anything else than the retention's function is still refused.
        with pytest.raises(DBAPIError, match="append-only"):
            write_session.execute(text("DELETE FROM audit_events"))
        write_session.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            write_session.execute(update(AuditEvent).values(actor="x"))
        write_session.rollback()


def test_accounts_inactive_two_years_are_deactivated_then_erased_a_year_later(
    demo_territories, make_account, write_session, settings
):
    sleeping = make_account("professional", ["grand-arras"])
    working = make_account("coordinator", ["grand-arras"])
    users = write_session.scalars(select(User).order_by(User.id)).all()
    sleeper, worker = users[-2], users[-1]
    now = datetime.now(UTC)
    write_session.execute(update(User).where(User.id == sleeper.id).values(last_active_at=now - timedelta(days=2)))
    write_session.execute(update(User).where(User.id == worker.id).values(last_active_at=now - timedelta(days=2)))
    write_session.commit()
    assert sleeping and working

    # The coordinator keeps working (its reads are in the trail); the professional does not.
    write_session.add(
        AuditEvent(
            at=months_later(23),
            actor_user_id=worker.id,
            actor=worker.email,
            actor_role="coordinator",
            territory_id=None,
            action="read",
            object_type="request",
            object_id="1",
        )
    )
    # Its name held apart, as a regulator's is (INT_R02): erased with the rest.
    write_session.execute(
        update(User).where(User.id == sleeper.id).values(family_name="DE LA TOUR", given_names="Jean")
    )
    write_session.commit()
    counts = retention.run(write_session, settings, months_later(24, days=1))
    assert counts.accounts_deactivated == 1
    write_session.expire_all()
    assert write_session.get(User, sleeper.id).active is False
    assert write_session.get(User, worker.id).active is True

    assert retention.run(write_session, settings, months_later(36)).accounts_erased == 0
    assert retention.run(write_session, settings, months_later(36, days=2)).accounts_erased == 1
    write_session.expire_all()
    erased = write_session.get(User, sleeper.id)
    assert erased.email == f"compte-efface-{sleeper.id}@orientation.invalid" and erased.password_hash is None
    assert erased.display_name == retention.ERASED_ACCOUNT_NAME and erased.memberships == []
    assert (erased.family_name, erased.given_names) == (None, None)
    assert not write_session.scalars(select(ApiToken).where(ApiToken.user_id == sleeper.id)).all()


def test_the_run_logs_counts_only(client, demo_territories, coordinator, write_session, settings, caplog):
    _closed_and_matched(client, coordinator)
    with caplog.at_level(logging.DEBUG):
        retention.run(write_session, settings, months_later(13))
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "retention_run" in logged and "'requests_closed': 2" in logged
    for patient in PATIENTS:
        assert patient["family_name"] not in logged and patient["phone"] not in logged


def test_the_worker_runs_the_retention_once_a_day(write_session, db, engine, settings):
    now = datetime.now(UTC)
    clock = [now]
    worker = OutboxWorker(settings, sessionmaker(bind=for_writing(engine)), senders={}, clock=lambda: clock[0])
    message = _message(write_session, "sent", 40, 40, 5)
    assert worker.retain_if_due() is True
    assert db.get(OutboxMessage, message).body == ""
    db.rollback()
    clock[0] = now + timedelta(hours=23)
    assert worker.retain_if_due() is False
    clock[0] = now + timedelta(hours=24)
    assert worker.retain_if_due() is True
    runs = db.scalars(select(AuditEvent).where(AuditEvent.action == "retention.run")).all()
    assert len(runs) == 2


def test_the_command_line_runs_it_and_the_dry_run_changes_nothing(database_url, db, write_session):
    message = _message(write_session, "sent", 40, 40, 6)
    dry = cli.run(database_url, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "outbox_messages" in dry.stdout and "1 to erase" in dry.stdout
    assert db.get(OutboxMessage, message).body != ""
    db.rollback()

    done = cli.run(database_url, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert "1 erased" in done.stdout
    assert db.get(OutboxMessage, message).body == ""
    assert "Quennehen" not in done.stdout + done.stderr


def test_an_erased_request_still_opens_in_the_api_the_workspace_and_the_exports(
    client, demo_territories, coordinator, write_session, settings
):
    matched, closed, _ = _closed_and_matched(client, coordinator)
    retention.run(write_session, settings, months_later(13))
    write_session.rollback()

    shown = client.get(f"/api/v1/requests/{closed}", headers=coordinator)
    assert shown.status_code == 200 and shown.json()["family_name"] == ""
    assert shown.json()["status"] == "closed" and shown.json()["close_reason"] == "found_alone"
    for export_format in ("csv", "xlsx"):
        exported = client.get("/api/v1/requests/export", params={"format": export_format}, headers=coordinator)
        assert exported.status_code == 200
    assert "Quennehen" not in client.get("/api/v1/requests/export", headers=coordinator).text

    factories.account_headers(write_session, "coordinator", 77, ["grand-arras"])
    signed_in = client.post(
        "/espace/connexion",
        data={"email": "coordinator77@test.example.fr", "password": factories.PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    page = client.get(f"/espace/demandes/{matched}")
    assert page.status_code == 200 and "Quennehen" not in page.text and NOTE not in page.text

"""Before an offer lapses, a doctor who has not answered is reminded once; when the automatic mode
runs out of doctors, the request goes back to the coordination, whose coordinators are told once.
The clock is moved, never waited for."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing, utcnow
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.requests.models import DoctorOffer, PatientRequest, RequestEvent
from app.territories.models import Territory
from tests.factories import PASSWORD, add_doctor, doctor_body, submit
from tests.helpers.workspace import csrf_of

pytestmark = pytest.mark.usefixtures("demo_territories")
LINK = re.compile(r"(/medecins/propositions/[A-Za-z0-9_.\-]+)")


def _messages(db, kind: str) -> list[OutboxMessage]:
    db.rollback()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def _link_of(message: OutboxMessage) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def _sign_in(client, make_account, db) -> str:
    db.rollback()  # the test's session must not hold an older snapshot while it writes (SQLite)
    make_account("coordinator", ["grand-arras"])
    client.cookies.clear()
    response = client.post(
        "/espace/connexion",
        data={"email": "coordinator1@test.example.fr", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/espace/demandes").text)


def _offer(client, make_account, db, request_id: int, doctor_ids: list[int]) -> None:
    token = _sign_in(client, make_account, db)
    response = client.post(
        f"/espace/demandes/{request_id}/propositions", data={"csrf_token": token, "doctor_ids": doctor_ids}
    )
    assert response.status_code == 200
    client.cookies.clear()  # the doctors answer without an account


def _doctor_with_a_mobile(client, headers, n: int) -> int:
    body = {**doctor_body(n), "phone": f"06 11 22 33 4{n}"}
    response = client.post("/api/v1/doctors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def worker_at(settings, engine):
    """worker_at(hours) → a worker whose clock reads `hours` after the test began."""
    sessions = sessionmaker(bind=for_writing(engine))
    start = utcnow()

    def make(hours: float, **overrides) -> OutboxWorker:
        return OutboxWorker(
            settings.model_copy(update=overrides), sessions, {}, clock=lambda: start + timedelta(hours=hours)
        )

    return make


def test_a_doctor_who_has_not_answered_is_reminded_once_with_the_same_link(
    client, make_account, coordinator, worker_at, db
):
    doctors = [_doctor_with_a_mobile(client, coordinator, n) for n in (1, 2)]
    request_id = submit(client).json()["id"]
    _offer(client, make_account, db, request_id, doctors)
    offer_links = {m.doctor_id: _link_of(m) for m in _messages(db, "offer") if m.channel == "email"}
    # The first doctor answers within the two days; the second does not.
    assert "C'est noté" in client.post(offer_links[doctors[0]], data={"action": "decline"}).text

    worker_at(47).offers_if_due()
    assert _messages(db, "offer_reminder") == []  # not yet
    worker_at(48.1).offers_if_due()
    reminders = _messages(db, "offer_reminder")
    # The one who has not answered, by the same channels as the offer (e-mail, and SMS on a mobile).
    assert {(m.doctor_id, m.channel) for m in reminders} == {(doctors[1], "email"), (doctors[1], "sms")}
    offer_channels = {m.channel for m in _messages(db, "offer") if m.doctor_id == doctors[1]}
    assert {m.channel for m in reminders} == offer_channels
    email = next(m for m in reminders if m.channel == "email")
    assert _link_of(email) == offer_links[doctors[1]]  # the same signed link…
    assert "encore valable environ 24 heures" in email.body
    assert "J'accepte" in client.get(_link_of(email)).text  # …still valid
    assert "Dupré" not in email.body and "Anne" not in email.body  # still nothing identifying

    # Once: neither a later run nor a second worker reminds again.
    worker_at(49).offers_if_due()
    worker_at(60).offers_if_due()
    assert len(_messages(db, "offer_reminder")) == 2
    db.rollback()
    offer = db.scalars(select(DoctorOffer).where(DoctorOffer.doctor_id == doctors[1])).one()
    assert offer.reminded_at is not None and offer.status == "pending"


def test_no_reminder_after_an_answer_a_withdrawal_or_the_delay(client, make_account, coordinator, worker_at, db):
    doctors = [add_doctor(client, coordinator, n, "Arras", "62000") for n in (1, 2)]
    first = submit(client).json()["id"]
    _offer(client, make_account, db, first, doctors)
    links = {m.doctor_id: _link_of(m) for m in _messages(db, "offer") if m.channel == "email"}
    # The first doctor accepts: the second's offer is withdrawn, and no reminder goes to either.
    assert "vous prenez ce patient en charge" in client.post(links[doctors[0]], data={"action": "accept"}).text
    worker_at(50).offers_if_due()
    assert _messages(db, "offer_reminder") == []

    # An offer never reminded before it lapsed is not reminded after (the worker was down).
    second = submit(client, given_name="Paul").json()["id"]
    _offer(client, make_account, db, second, doctors[1:])
    worker_at(73).offers_if_due()
    assert _messages(db, "offer_reminder") == []
    db.rollback()
    assert db.scalars(select(DoctorOffer.status).where(DoctorOffer.request_id == second)).one() == "expired"


def test_reminders_can_be_switched_off(client, make_account, coordinator, worker_at, db):
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    _offer(client, make_account, db, submit(client).json()["id"], [doctor])
    worker_at(50, offer_reminder_after_hours=0).offers_if_due()
    assert _messages(db, "offer_reminder") == []
    # A reminder at or past the delay would come too late: none either.
    worker_at(71.9, offer_reminder_after_hours=72).offers_if_due()
    assert _messages(db, "offer_reminder") == []
    worker_at(60).offers_if_due()  # the default, 48 h
    assert len(_messages(db, "offer_reminder")) == 1


# ---- The automatic mode runs out of doctors ------------------------------------------------------


def _automatic(db) -> None:
    territory = db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one()
    territory.auto_offers_since = utcnow() - timedelta(minutes=1)
    db.commit()


def test_when_every_doctor_declined_the_request_goes_back_to_the_coordinators_once(
    client, make_account, coordinator, worker_at, db
):
    second_coordinator = make_account("coordinator", ["grand-arras"])
    assert second_coordinator
    make_account("coordinator", ["provence-sante"])  # another CPTS's: not told
    near = add_doctor(client, coordinator, 1, "Tilloy-lès-Mofflaines", "62217")
    arras = add_doctor(client, coordinator, 2, "Arras", "62000")
    _automatic(db)
    request_id = submit(client).json()["id"]

    assert worker_at(0).offers_if_due() == 1
    link = _link_of(next(m for m in _messages(db, "offer") if m.doctor_id == near and m.channel == "email"))
    client.post(link, data={"action": "decline", "reason": "Complet"})
    assert worker_at(1).offers_if_due() == 1  # to the next doctor
    assert _messages(db, "no_doctor_left") == []
    # The second lets the delay pass: nobody is left.
    assert worker_at(1 + 73).offers_if_due() == 0
    alerts = _messages(db, "no_doctor_left")
    assert sorted(m.recipient for m in alerts) == ["coordinator1@test.example.fr", "coordinator2@test.example.fr"]
    body = alerts[0].body
    assert f"demande n° {request_id}" in body and f"/espace/demandes/{request_id}" in body
    # No patient data in the mail: neither name, phone, birth date nor commune.
    for personal in ("Dupré", "Anne", "06 12 34 56 78", "0612345678", "Tilloy", "1985"):
        assert personal not in body and personal not in (alerts[0].subject or "")
    assert all(m.channel == "email" and m.request_id is None for m in alerts)
    db.rollback()
    handed_back = db.get(PatientRequest, request_id)
    assert handed_back.no_doctor_left_at is not None and handed_back.status == "proposed"
    assert {o.doctor_id: o.status for o in db.scalars(select(DoctorOffer))} == {near: "declined", arras: "expired"}
    assert any(
        "Aucun médecin disponible" in (e.text or "")
        for e in db.scalars(select(RequestEvent).where(RequestEvent.request_id == request_id))
    )

    # Once per request: later runs, a second worker, nothing more.
    assert worker_at(80).offers_if_due() == 0
    assert worker_at(200).offers_if_due() == 0
    assert len(_messages(db, "no_doctor_left")) == 2

    # The queue and the request's page show it.
    _sign_in(client, make_account, db)
    queue = client.get("/espace/demandes").text
    assert "Aucun médecin disponible : à reprendre" in queue
    page = client.get(f"/espace/demandes/{request_id}").text
    assert 'id="no-doctor-left"' in page
    api = client.get("/api/v1/requests", headers=coordinator).json()
    assert [r["no_doctor_left"] for r in api["items"] if r["id"] == request_id] == [True]

    # The coordinator takes it up: offered by hand to a new doctor, the mark leaves the queue.
    newcomer = add_doctor(client, coordinator, 3, "Arras", "62000")
    token = csrf_of(client.get("/espace/demandes").text)
    client.post(f"/espace/demandes/{request_id}/propositions", data={"csrf_token": token, "doctor_ids": [newcomer]})
    assert "Aucun médecin disponible : à reprendre" not in client.get("/espace/demandes").text
    assert worker_at(300).offers_if_due() == 0
    assert len(_messages(db, "no_doctor_left")) == 2


def test_a_request_no_doctor_can_take_is_handed_back_at_once(client, coordinator, worker_at, db):
    add_doctor(client, coordinator, 1, "Arras", "62000", capacity_remaining=0, accepting_new_patients=False)
    _automatic(db)
    request_id = submit(client).json()["id"]
    assert worker_at(0).offers_if_due() == 0
    alerts = _messages(db, "no_doctor_left")
    assert [m.recipient for m in alerts] == ["coordinator1@test.example.fr"]
    assert "0 médecin(s) sollicité(s)" in alerts[0].body
    db.rollback()
    request = db.get(PatientRequest, request_id)
    assert request.status == "received" and request.no_doctor_left_at is not None
    assert db.scalars(select(DoctorOffer)).all() == []


def test_the_reminder_and_the_alert_reach_a_real_smtp_server(client, coordinator, settings, engine, db):
    from app.notifications.senders import SmtpSender
    from tests.fakes.smtp import SmtpServer

    add_doctor(client, coordinator, 1, "Arras", "62000")
    _automatic(db)
    request_id = submit(client).json()["id"]
    server = SmtpServer()
    server.start()
    try:
        configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": server.port})
        sessions = sessionmaker(bind=for_writing(engine))
        start = utcnow()
        clock = [start]
        worker = OutboxWorker(configured, sessions, {"email": SmtpSender(configured)}, clock=lambda: clock[0])
        assert worker.offers_if_due() == 1
        worker.run_once()
        clock[0] = start + timedelta(hours=48, minutes=5)
        worker.offers_if_due()
        worker.run_once()
        clock[0] = start + timedelta(hours=72, minutes=10)
        assert worker.offers_if_due() == 0  # lapsed, and nobody left
        worker.run_once()
        by_subject = {str(m["Subject"]): m for m in server.messages}
        reminder = by_subject["Rappel : un patient sans médecin traitant attend votre réponse"]
        assert str(reminder["To"]) == "doc1@example.fr" and "/medecins/propositions/" in reminder.get_content()
        alert = by_subject["Orientation : une demande sans médecin disponible, à reprendre"]
        assert str(alert["To"]) == "coordinator1@test.example.fr"
        assert f"/espace/demandes/{request_id}" in alert.get_content() and "Dupré" not in alert.get_content()
    finally:
        server.stop()

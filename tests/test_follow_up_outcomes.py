"""Closing the loop (issue 16, items 3 and 4): 21 days after the match the worker asks the
patient, by the channel they chose and once only, whether the first appointment took place; the
patient answers in two taps on the follow-up page; the indicators count it, split ALD / 70+ /
CSS, with median delays, and keep it after erasure. The yearly satisfaction questionnaire goes
once per patient helped that year, from its configured day. The clock is moved, never waited for."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.notifications.senders import SmtpSender
from app.requests.models import PatientRequest, RequestEvent, SatisfactionAnswer
from app.web import follow_up
from tests.factories import add_doctor, submit
from tests.fakes.smtp import SmtpServer
from tests.helpers.workspace import COORDINATOR, sign_in

pytestmark = pytest.mark.usefixtures("demo_territories")

MATCHED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LINK = re.compile(r"http://127\.0\.0\.1:8000(/suivi/\S+?)(?=[\s)]|$)")


class Recorder:
    """An SMS provider that keeps what it is given (the HTTP provider is tested elsewhere)."""

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, outgoing, accepted) -> None:
        self.sent.append(outgoing)
        accepted()


@pytest.fixture
def sessions(engine):
    return sessionmaker(bind=for_writing(engine), expire_on_commit=False)


def matched_request(client, coordinator, db, **answers) -> dict:
    """Submitted, proposed and matched, the match dated MATCHED; its receipt's link."""
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000", accepting_new_patients=True, capacity_remaining=5)
    submitted = submit(client, **answers)
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["id"]
    url = f"/api/v1/requests/{request_id}/transitions"
    assert client.post(url, json={"to": "proposed"}, headers=coordinator).status_code == 200
    assert client.post(url, json={"to": "matched", "doctor_id": doctor}, headers=coordinator).status_code == 200
    db.execute(
        update(PatientRequest).where(PatientRequest.id == request_id).values(created_at=MATCHED - timedelta(days=10))
    )
    db.execute(update(RequestEvent).where(RequestEvent.request_id == request_id).values(at=MATCHED))
    db.commit()
    return {"id": request_id, "receipt_link": submitted.json()["follow_up_url"]}


def first_visit_messages(db, request_id: int) -> list[OutboxMessage]:
    db.rollback()  # a fresh read: the workers committed in their own sessions
    return list(
        db.scalars(
            select(OutboxMessage).where(OutboxMessage.request_id == request_id, OutboxMessage.kind == "first_visit")
        )
    )


def worker_at(settings, sessions, moment, senders=None) -> OutboxWorker:
    return OutboxWorker(settings, sessions, senders or {"sms": Recorder()}, clock=lambda: moment)


def test_the_worker_asks_once_21_days_after_the_match_by_sms(client, coordinator, db, settings, sessions):
    request = matched_request(client, coordinator, db)

    assert worker_at(settings, sessions, MATCHED + timedelta(days=20)).outcomes_if_due() == 0
    assert first_visit_messages(db, request["id"]) == []

    sms = Recorder()
    first = worker_at(settings, sessions, MATCHED + timedelta(days=21, minutes=1), {"sms": sms})
    second = worker_at(settings, sessions, MATCHED + timedelta(days=21, minutes=2), {"sms": sms})
    assert first.outcomes_if_due() == 1
    assert second.outcomes_if_due() == 0  # another worker, or a restart: recorded, not asked again
    assert first.run_once() == 1 and second.run_once() == 0
    [message] = first_visit_messages(db, request["id"])
    assert (message.channel, message.recipient) == ("sms", "+33612345678")
    [outgoing] = sms.sent
    assert "premier" in outgoing.body.lower() or "1er" in outgoing.body
    assert LINK.search(outgoing.body), outgoing.body
    row = db.get(PatientRequest, request["id"])
    assert row.confirmation_channel == "sms" and row.confirmation_asked_at is not None


def test_the_delay_is_a_setting(client, coordinator, db, settings, sessions):
    request = matched_request(client, coordinator, db)
    sooner = settings.model_copy(update={"follow_up_confirmation_days": 7})

    assert worker_at(sooner, sessions, MATCHED + timedelta(days=8)).outcomes_if_due() == 1
    assert len(first_visit_messages(db, request["id"])) == 1


def test_an_email_patient_gets_it_from_a_real_smtp_server(client, coordinator, db, settings, sessions):
    request = matched_request(client, coordinator, db, preferred_channel="email")
    server = SmtpServer()
    server.start()
    try:
        configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": server.port})
        worker = worker_at(configured, sessions, MATCHED + timedelta(days=22), {"email": SmtpSender(configured)})
        assert worker.outcomes_if_due() == 1
        assert worker.run_once() == 1
        [email] = [
            m for m in server.messages if m["Subject"] == "Votre premier rendez-vous avec votre médecin traitant"
        ]
        assert str(email["To"]) == "anne@example.fr"
        assert LINK.search(email.get_content())
        assert [m.channel for m in first_visit_messages(db, request["id"])] == ["email"]
    finally:
        server.stop()


def test_a_landline_is_marked_to_call_for_the_coordination(client, coordinator, db, settings, sessions):
    request = matched_request(client, coordinator, db, phone="03 21 55 66 77", email=None, preferred_channel="phone")

    assert worker_at(settings, sessions, MATCHED + timedelta(days=22)).outcomes_if_due() == 0
    assert first_visit_messages(db, request["id"]) == []
    queue = client.get("/api/v1/requests?status=matched", headers=coordinator).json()
    [row] = [r for r in queue["items"] if r["id"] == request["id"]]
    assert row["to_call_about_first_visit"] is True
    figures = indicators(client, coordinator)
    assert (figures["outcomes"]["asked"], figures["outcomes"]["to_call"]) == (1, 1)


def indicators(client, coordinator) -> dict:
    answer = client.get("/api/v1/territories/grand-arras/indicators?from=2026-01-01&to=2026-12-31", headers=coordinator)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_patient_confirms_in_two_taps_and_the_indicators_count_it(
    client, coordinator, db, settings, sessions, monkeypatch
):
    request = matched_request(client, coordinator, db, ald=True)
    sms = Recorder()
    worker = worker_at(settings, sessions, MATCHED + timedelta(days=21, hours=1), {"sms": sms})
    worker.outcomes_if_due()
    worker.run_once()
    link = LINK.search(sms.sent[0].body).group(1)
    before = indicators(client, coordinator)["outcomes"]
    assert (before["first_visit"], before["declared"]) == (0, 0)

    page = client.get(link)
    assert page.status_code == 200
    assert "Oui, mon premier rendez-vous a eu lieu" in page.text
    monkeypatch.setattr(follow_up, "utcnow", lambda: MATCHED + timedelta(days=23))
    tapped = client.post(f"{link}/confirmer/premier-rendez-vous")
    assert tapped.status_code == 200
    assert "Merci : votre premier rendez-vous est noté." in tapped.text
    assert "Oui, c'est mon médecin traitant déclaré" in tapped.text
    monkeypatch.setattr(follow_up, "utcnow", lambda: MATCHED + timedelta(days=30))
    # The receipt's link still opens the same page.
    receipt_path = request["receipt_link"].removeprefix("http://127.0.0.1:8000")
    assert client.post(f"{receipt_path}/confirmer/declaration").status_code == 200
    again = client.post(f"{link}/confirmer/declaration")
    assert "C&#39;était déjà noté" in again.text

    figures = indicators(client, coordinator)["outcomes"]
    assert (figures["first_visit"], figures["declared"]) == (1, 1)
    assert figures["first_visit_by_group"]["ald"] == 1 and figures["declared_by_group"]["ald"] == 1
    assert figures["median_days_match_to_first_visit"] == 23.0
    assert figures["median_days_first_visit_to_declared"] == 7.0
    assert figures["median_days_request_to_declared"] == 40.0
    events = [e.text for e in db.scalars(select(RequestEvent).where(RequestEvent.request_id == request["id"]))]
    assert "Premier rendez-vous confirmé par le patient depuis son lien de suivi." in events


@pytest.mark.usefixtures("demo")
def test_the_indicators_page_and_its_exports_show_the_funnel(client, coordinator, db):
    request = matched_request(client, coordinator, db)
    db.execute(
        update(PatientRequest)
        .where(PatientRequest.id == request["id"])
        .values(first_visit_confirmed_at=MATCHED + timedelta(days=5))
    )
    db.commit()
    sign_in(client, COORDINATOR)
    page = client.get("/espace/indicateurs?du=2026-01-01&au=2026-12-31")
    assert page.status_code == 200
    assert re.search(r"Premier rendez-vous confirmé</th><td class=\"num\">1<", page.text)
    assert 'id="chart-funnel"' in page.text
    csv = client.get("/espace/indicateurs.csv?du=2026-01-01&au=2026-12-31")
    assert "Premier rendez-vous confirmé;1" in csv.content.decode("utf-8-sig")
    xlsx = client.get("/espace/indicateurs.xlsx?du=2026-01-01&au=2026-12-31")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_an_unmatched_request_has_nothing_to_confirm(client):
    link = submit(client).json()["follow_up_url"].removeprefix("http://127.0.0.1:8000")
    assert "premier rendez-vous a eu lieu" not in client.get(link).text
    answer = client.post(f"{link}/confirmer/premier-rendez-vous")
    assert "rien à confirmer" in answer.text
    assert client.post(f"{link}/confirmer/autre-chose").status_code == 404


def test_the_confirmed_facts_survive_erasure(client, coordinator, db, settings, sessions):
    request = matched_request(client, coordinator, db)
    sms = Recorder()
    worker = worker_at(settings, sessions, MATCHED + timedelta(days=22), {"sms": sms})
    worker.outcomes_if_due()
    worker.run_once()
    message_link = LINK.search(sms.sent[0].body).group(1)
    path = request["receipt_link"].removeprefix("http://127.0.0.1:8000")
    client.post(f"{path}/confirmer/declaration")
    erased = client.post(f"{path}/effacement", data={"confirm": "yes"})
    assert erased.status_code == 200

    db.expire_all()
    row = db.get(PatientRequest, request["id"])
    assert row.erased_at is not None and row.family_name == ""
    assert row.first_visit_confirmed_at is not None and row.declared_confirmed_at is not None
    figures = indicators(client, coordinator)["outcomes"]
    assert (figures["first_visit"], figures["declared"]) == (1, 1)
    # Both links are gone with the data.
    assert client.get(path).status_code == 404 and client.get(message_link).status_code == 404
    # Erased: never asked anything again (not even this year's questionnaire).
    assert worker_at(settings, sessions, datetime(2026, 12, 20, tzinfo=UTC)).outcomes_if_due() == 0


# The yearly satisfaction questionnaire ------------------------------------------------------------

SURVEY_DAY = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)


def test_the_questionnaire_goes_once_a_year_from_its_day_and_is_answered_anonymously(
    client, coordinator, db, settings, sessions, monkeypatch
):
    request = matched_request(client, coordinator, db)
    db.execute(update(PatientRequest).values(confirmation_asked_at=MATCHED))  # the confirmation is not this test's
    db.commit()
    configured = settings.model_copy(update={"satisfaction_date": "12-15"})

    assert worker_at(configured, sessions, SURVEY_DAY - timedelta(days=1)).outcomes_if_due() == 0
    sms = Recorder()
    assert worker_at(configured, sessions, SURVEY_DAY, {"sms": sms}).outcomes_if_due() == 1
    assert worker_at(configured, sessions, SURVEY_DAY + timedelta(days=3), {"sms": sms}).outcomes_if_due() == 0
    worker_at(configured, sessions, SURVEY_DAY, {"sms": sms}).run_once()
    [outgoing] = [o for o in sms.sent if "votre avis" in o.body]
    link = LINK.search(outgoing.body).group(1)

    monkeypatch.setattr(follow_up, "utcnow", lambda: SURVEY_DAY + timedelta(days=1))
    form = client.get(f"{link}/avis")
    assert form.status_code == 200
    assert form.text.count("<fieldset") == 3 and form.text.count("<legend>") == 3
    incomplete = client.post(f"{link}/avis", data={"satisfaction": "very", "delay": "short"})
    assert incomplete.status_code == 422
    assert 'id="recommend-error"' in incomplete.text
    done = client.post(f"{link}/avis", data={"satisfaction": "very", "delay": "short", "recommend": "yes"})
    assert done.status_code == 200 and "Merci pour vos réponses" in done.text
    twice = client.post(f"{link}/avis", data={"satisfaction": "not", "delay": "long", "recommend": "no"})
    assert "Pas de questionnaire en attente" in twice.text

    [answer] = db.scalars(select(SatisfactionAnswer)).all()
    assert (answer.year, answer.satisfaction, answer.delay, answer.recommend) == (2026, "very", "short", "yes")
    assert not hasattr(answer, "request_id")  # whose answers they are is not kept
    figures = indicators(client, coordinator)["satisfaction"]
    assert figures["satisfaction"]["very"] == 1 and figures["recommend"]["yes"] == 1
    assert request["id"]


def test_no_questionnaire_when_the_date_is_unset(client, coordinator, db, settings, sessions):
    matched_request(client, coordinator, db)
    db.execute(update(PatientRequest).values(confirmation_asked_at=MATCHED))
    db.commit()
    off = settings.model_copy(update={"satisfaction_date": ""})
    assert worker_at(off, sessions, SURVEY_DAY).outcomes_if_due() == 0


def test_the_date_setting_is_checked():
    from pydantic import ValidationError

    from app.core.settings import Settings

    with pytest.raises(ValidationError):
        Settings(satisfaction_date="15-12")
    assert Settings(satisfaction_date="02-29").satisfaction_date == "02-29"


# Unscheduled care: FICHE 6's activity report ----------------------------------------------------


def test_the_activity_report_counts_bookings_by_age_band_and_doctor_and_survives_erasure(
    client, coordinator, db, settings
):
    from app.privacy.erasure import erase_booking
    from app.snp.models import Booking, Slot
    from tests.factories import make_slot

    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    patients = [("70+", "no", "fulfilled"), ("70+", "yes", "noshow"), ("0-17", "no", None)]
    ids = []
    for n, (band, has_doctor, _) in enumerate(patients):
        slot = make_slot(db, doctor, soon + timedelta(hours=n))
        booked = client.post(
            f"/api/v1/snp/slots/{slot}/bookings",
            json={
                "family_name": "Venu",
                "given_name": f"Patient{n}",
                "phone": "06 12 34 56 78",
                "reason": "Fièvre",
                "age_band": band,
                "has_doctor": has_doctor,
            },
            headers=coordinator,
        )
        assert booked.status_code == 201, booked.text
        ids.append(booked.json()["id"])
    refused = client.post(
        f"/api/v1/snp/slots/{make_slot(db, doctor, soon + timedelta(hours=5))}/bookings",
        json={"family_name": "X", "given_name": "Y", "phone": "06 12 34 56 78", "reason": "Toux", "age_band": "12"},
        headers=coordinator,
    )
    assert refused.status_code == 422 and "age_band" in refused.text
    past = datetime.now(UTC) - timedelta(hours=3)
    db.execute(update(Slot).values(start_at=past, end_at=past + timedelta(minutes=20)))
    db.commit()
    for booking_id, (_, _, outcome) in zip(ids, patients, strict=True):
        if outcome:
            answer = client.post(
                f"/api/v1/snp/bookings/{booking_id}/outcome", json={"outcome": outcome}, headers=coordinator
            )
            assert answer.status_code == 200, answer.text
    for booking_id in ids:  # the retention's erasure: the patient's fields go, the facts stay
        erase_booking(db, db.get(Booking, booking_id), datetime.now(UTC))
    db.commit()

    report = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator).json()
    activity = report["unscheduled_care_report"]
    # No walk-in here: the passages are the patients who came on their booking.
    assert activity["age_band"]["70+"] == {"booked": 2, "came": 1, "noshow": 1, "walk_in": 0, "passages": 1}
    assert activity["age_band"]["0-17"] == {"booked": 1, "came": 0, "noshow": 0, "walk_in": 0, "passages": 0}
    assert activity["has_doctor"]["no"] == {"booked": 2, "came": 1, "noshow": 0, "walk_in": 0, "passages": 1}
    assert activity["has_doctor"]["yes"] == {"booked": 1, "came": 0, "noshow": 1, "walk_in": 0, "passages": 0}


@pytest.mark.usefixtures("demo")
def test_the_coordination_notes_what_a_landline_patient_said_on_the_phone(client, coordinator, db, settings, sessions):
    from tests.helpers.workspace import csrf_of, flash_of

    request = matched_request(client, coordinator, db, phone="03 21 55 66 77", email=None, preferred_channel="phone")
    worker_at(settings, sessions, MATCHED + timedelta(days=22)).outcomes_if_due()
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/demandes/{request['id']}")
    assert "fixe seulement, à appeler" in page.text
    noted = client.post(
        f"/espace/demandes/{request['id']}/suivi-du-patient",
        data={"csrf_token": csrf_of(page.text), "etape": "premier-rendez-vous"},
        follow_redirects=False,
    )
    assert noted.status_code == 303
    assert flash_of(client.get(noted.headers["location"]).text) == "Noté : premier rendez-vous confirmé."
    assert indicators(client, coordinator)["outcomes"]["first_visit"] == 1
    queue = client.get("/api/v1/requests?status=matched", headers=coordinator).json()
    [row] = [r for r in queue["items"] if r["id"] == request["id"]]
    assert row["to_call_about_first_visit"] is False  # answered: nobody to call any more
    again = client.post(
        f"/espace/demandes/{request['id']}/suivi-du-patient",
        data={"csrf_token": csrf_of(page.text), "etape": "premier-rendez-vous"},
        follow_redirects=False,
    )
    assert "Rien de nouveau" in flash_of(client.get(again.headers["location"]).text)

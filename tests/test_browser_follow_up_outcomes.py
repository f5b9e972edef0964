"""Closing the loop in a real Chromium, on a phone (390 px): the worker, its clock moved 21 days
past the match, writes the patient an SMS; its link opens the follow-up page, where two taps
confirm the first appointment and the declaration; the coordinator's indicators count them; the
year's questionnaire is answered on the same phone. axe-core on each page."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing, utcnow
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.requests.models import PatientRequest, RequestEvent, SatisfactionSurvey
from app.requests.schemas import RequestCreate
from app.requests.service import submit_request
from tests.browser import LAPTOP, assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser


def _matched_request(db, geocoding) -> int:
    """A patient of the Grand Arras, matched 22 days ago (the history says so)."""
    created, _, _ = submit_request(
        db,
        geocoding,
        None,
        RequestCreate(
            family_name="Boucle",
            given_name="Irène",
            birth_date="1950-06-01",
            phone="06 11 22 33 44",
            postcode="62217",
            city="Tilloy-lès-Mofflaines",
            no_doctor_reason="doctor_left",
            preferred_channel="sms",
            consent=True,
            cpts="grand-arras",
        ),
        "http://test",
    )
    db.flush()
    matched_at = utcnow() - timedelta(days=22)
    db.execute(update(PatientRequest).where(PatientRequest.id == created.id).values(status="matched"))
    db.add(
        RequestEvent(
            request_id=created.id,
            at=matched_at,
            actor="test",
            kind="status",
            from_status="received",
            to_status="matched",
        )
    )
    db.commit()
    return created.id


def test_a_patient_confirms_the_first_appointment_from_the_sms_link(
    database_url, db, demo, geocoding, settings, engine
):
    require_browser()
    request_id = _matched_request(db, geocoding)
    worker = OutboxWorker(settings, sessionmaker(bind=for_writing(engine)), {})
    assert worker.outcomes_if_due() >= 1
    db.rollback()
    [message] = db.scalars(
        select(OutboxMessage).where(OutboxMessage.request_id == request_id, OutboxMessage.kind == "first_visit")
    ).all()
    assert message.channel == "sms" and message.recipient == "+33611223344"
    path = re.search(r"https?://[^/\s]+(/suivi/\S+)", message.body).group(1)

    with running_server(database_url) as base, chromium_page() as page:
        page.goto(base + path)
        page.wait_for_selector("text=Votre premier rendez-vous")
        assert_accessible(page, "follow-up page, matched")
        page.get_by_role("button", name="Oui, mon premier rendez-vous a eu lieu").click()
        page.wait_for_selector("text=Merci : votre premier rendez-vous est noté.")
        assert_accessible(page, "first appointment confirmed")
        page.get_by_role("button", name="Oui, c'est mon médecin traitant déclaré").click()
        page.wait_for_selector("text=Médecin traitant déclaré, noté le")
        assert_accessible(page, "declaration confirmed")

        # The year's questionnaire, sent as the worker would: the same link's form.
        db.rollback()  # a fresh transaction: the server wrote since the last read
        db.add(SatisfactionSurvey(request_id=request_id, year=utcnow().year, channel="sms", sent_at=utcnow()))
        db.commit()
        page.goto(base + path + "/avis")
        page.wait_for_selector("text=Votre avis sur l'aide de la CPTS")
        assert_accessible(page, "satisfaction form")
        page.get_by_role("button", name="Envoyer mes réponses").click()
        page.wait_for_selector("text=Répondez aux trois questions.")
        assert_accessible(page, "satisfaction form, incomplete")
        page.get_by_label("Plutôt satisfait(e)").check()
        page.get_by_label("Raisonnable").check()
        page.get_by_label("Oui").check()
        page.get_by_role("button", name="Envoyer mes réponses").click()
        page.wait_for_selector("text=Merci pour vos réponses")

        page.set_viewport_size(LAPTOP)
        sign_in(page, base, "coordination@cpts-grand-arras.example.fr")
        page.goto(base + "/espace/indicateurs")
        row = page.locator("#indicators tr", has_text="Premier rendez-vous confirmé")
        assert row.first.locator("td").inner_text() == "1"
        declared = page.locator("#indicators tr", has_text="Déclarés : médecin traitant")
        assert declared.first.locator("td").inner_text() == "1"
        assert page.locator("#chart-funnel").is_visible()
        assert_accessible(page, "indicators")

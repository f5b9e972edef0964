"""Issue 16, "Closing the loop", offers to doctors in a real Chromium: the coordinator offers a
patient to three ranked doctors from the request's page; two doctors, in two browsers, click
"J'accepte" at the same moment; one wins, the other is thanked; the patient's SMS names the
winner; the indicators count one acceptance. axe-core on every page."""

import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.identifiers import can_receive_sms
from app.doctors.models import Doctor
from app.notifications.models import OutboxMessage
from app.requests.models import DoctorOffer, PatientRequest
from tests.browser import CHROMIUM, assert_accessible, chromium_page, require_browser, running_server, sign_in
from tests.helpers.workspace import COORDINATOR

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo")]
LINK = re.compile(r"(/medecins/propositions/[A-Za-z0-9_.\-]+)")


def _sms(path: Path, needle: str, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = []
        if path.exists():
            found = [m for m in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if needle in m["text"]]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_three_doctors_offered_two_accept_at_once_one_wins(database_url, db, tmp_path):
    require_browser()
    env = {"ORIENTATION_SMS_FILE": str(tmp_path / "sms.log"), "ORIENTATION_MAIL_FILE": str(tmp_path / "mail.log")}
    with running_server(database_url, env=env, args=("--with-worker",)) as base, chromium_page() as page:
        sign_in(page, base, COORDINATOR)
        page.wait_for_url(re.compile(r".*/espace/.*"))
        candidates = db.scalars(
            select(PatientRequest)
            .where(PatientRequest.territory.has(slug="grand-arras"), PatientRequest.status == "received")
            .order_by(PatientRequest.id)
        ).all()
        chosen = None
        for candidate in candidates:
            page.goto(f"{base}/espace/demandes/{candidate.id}")
            if page.locator("#suggestions input[name=doctor_ids]").count() >= 3 and can_receive_sms(candidate.phone):
                chosen = candidate
                break
        assert chosen is not None, "the demo has a received request with three doctors"
        # The first three ranked doctors are checked: offer the patient to them, with a note.
        assert_accessible(page, "the request page with the offer form")
        page.get_by_label("Note pour les médecins (facultative)").fill("Patient très ponctuel")
        page.get_by_role("button", name="Proposer aux médecins cochés").click()
        page.wait_for_selector("#flash")
        assert "Patient proposé à 3 médecin(s)" in page.locator("#flash").inner_text()
        assert page.locator("#offers tbody tr").count() == 3
        assert_accessible(page, "the request page with its offers")

        db.rollback()
        offers = db.scalars(select(DoctorOffer).where(DoctorOffer.request_id == chosen.id)).all()
        assert len(offers) == 3
        mails = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer", OutboxMessage.channel == "email"))
        links = {m.doctor_id: LINK.search(m.body).group(1) for m in mails}
        first, second, third = (o.doctor_id for o in offers)
        places_before = {d: db.get(Doctor, d).capacity_remaining for d in (first, second, third)}

        # Two doctors, two browsers (two contexts: no shared cookie), the offer open in each.
        browser = page.context.browser
        doctor_a = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR").new_page()
        doctor_b = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR").new_page()
        doctor_a.goto(f"{base}{links[first]}")
        doctor_b.goto(f"{base}{links[second]}")
        text = doctor_a.locator("main").inner_text()
        assert "Patient très ponctuel" in text and chosen.family_name not in text
        assert_accessible(doctor_a, "the offer page at 390 px")
        assert_accessible(doctor_b, "the offer page at 1280 px")
        # The same moment: both clicks are sent before either answer comes back.
        doctor_a.get_by_role("button", name="J'accepte").click(no_wait_after=True)
        doctor_b.get_by_role("button", name="J'accepte").click(no_wait_after=True)
        doctor_a.wait_for_selector("#offer-outcome")
        doctor_b.wait_for_selector("#offer-outcome")
        outcomes = [p.locator("#offer-outcome").inner_text() for p in (doctor_a, doctor_b)]
        won = [i for i, o in enumerate(outcomes) if "vous prenez ce patient en charge" in o]
        lost = [i for i, o in enumerate(outcomes) if "Ce patient a déjà été pris en charge, merci." in o]
        assert len(won) == 1 and len(lost) == 1, outcomes
        winner = (first, second)[won[0]]
        assert_accessible((doctor_a, doctor_b)[won[0]], "the accepted offer")
        assert_accessible((doctor_a, doctor_b)[lost[0]], "the offer taken by another")

        db.rollback()
        patient = db.get(PatientRequest, chosen.id)
        assert (patient.status, patient.matched_doctor_id) == ("matched", winner)
        places = {d: db.get(Doctor, d).capacity_remaining for d in (first, second, third)}
        assert places[winner] == places_before[winner] - 1
        assert all(places[d] == places_before[d] for d in places if d != winner)
        # The patient's SMS names the winner.
        doctor = db.get(Doctor, winner)
        [sms] = _sms(tmp_path / "sms.log", "accepte de devenir votre médecin traitant")
        assert f"Dr {doctor.given_name} {doctor.family_name}" in sms["text"]

        # The indicators: one acceptance.
        page.goto(f"{base}/espace/indicateurs")
        row = page.locator("#indicators tr", has_text="… acceptées")
        assert row.locator("td").inner_text() == "1"
        assert_accessible(page, "the indicators")
    assert Path(CHROMIUM).exists()

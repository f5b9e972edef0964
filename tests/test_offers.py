"""Offers of a patient to doctors: offered from the request's page, answered through short
private links (the signed ones sent before still answer), the first acceptance wins exactly
once; the automatic mode moves on when a doctor does not answer; the ranking shares the load."""

import hashlib
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing, utcnow
from app.doctors.models import Doctor
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.requests import offers
from app.requests.models import DoctorOffer, PatientRequest
from app.territories.models import Territory
from tests.factories import PASSWORD, add_doctor, doctor_body, submit
from tests.helpers.workspace import csrf_of, flash_of

pytestmark = pytest.mark.usefixtures("demo_territories")
LINK = re.compile(r"(/medecins/propositions/[A-Za-z0-9_.\-]+)")


def _sign_in(client, make_account) -> str:
    """A coordinator of the Grand Arras signed in on the workspace; the page's CSRF token."""
    make_account("coordinator", ["grand-arras"])
    client.cookies.clear()
    response = client.post(
        "/espace/connexion",
        data={"email": "coordinator1@test.example.fr", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/espace/demandes").text)


def _links(db, kind: str = "offer") -> dict[int, str]:
    """The link each doctor got by e-mail, by doctor id."""
    db.rollback()
    rows = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind, OutboxMessage.channel == "email"))
    return {m.doctor_id: LINK.search(m.body).group(1) for m in rows if LINK.search(m.body)}


@pytest.fixture
def three_doctors(client, coordinator):
    return [add_doctor(client, coordinator, n, "Arras", "62000", capacity_remaining=3) for n in (1, 2, 3)]


def _offer_from_the_page(client, make_account, request_id, doctor_ids, note="Patiente ponctuelle"):
    token = _sign_in(client, make_account)
    response = client.post(
        f"/espace/demandes/{request_id}/propositions",
        data={"csrf_token": token, "doctor_ids": doctor_ids, "offer_note": note},
    )
    assert response.status_code == 200
    return response


def test_offered_from_the_request_page_each_doctor_gets_a_link_without_the_patients_identity(
    client, make_account, three_doctors, db
):
    request_id = submit(client).json()["id"]
    page = _offer_from_the_page(client, make_account, request_id, three_doctors)
    assert flash_of(page.text) == "Patient proposé à 3 médecin(s) : chacun reçoit son lien dans la minute."
    assert 'id="offers"' in page.text and page.text.count("en attente de réponse") == 3
    links = _links(db)
    assert set(links) == set(three_doctors)
    client.cookies.clear()  # the doctor has no account
    offer_page = client.get(links[three_doctors[0]])
    assert offer_page.status_code == 200
    text = offer_page.text
    assert "Tilloy-lès-Mofflaines" in text and "40-49 ans" in text and "Patiente ponctuelle" in text
    assert "Dupré" not in text and "06 12 34 56 78" not in text and "Anne" not in text
    assert "J'accepte" in text and "Je ne peux pas" in text
    # A forged or altered link opens nothing.
    assert client.get(links[three_doctors[0]] + "x").status_code == 404
    # The doctor's own pending offers.
    assert [o.doctor_id for o in offers.pending_offers_of_doctor(db, offers.AUTOMATIC, three_doctors[1])] == [
        three_doctors[1]
    ]


def test_two_doctors_accepting_at_once_one_wins_and_one_place_is_taken(client, make_account, three_doctors, db):
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors)
    links = _links(db)
    client.cookies.clear()
    barrier = threading.Barrier(2)

    def accept(doctor_id: int) -> str:
        barrier.wait()
        return client.post(links[doctor_id], data={"action": "accept"}).text

    with ThreadPoolExecutor(max_workers=2) as pool:
        pages = list(pool.map(accept, three_doctors[:2]))
    won = [p for p in pages if "vous prenez ce patient en charge" in p]
    lost = [p for p in pages if "Ce patient a déjà été pris en charge, merci." in p]
    assert len(won) == 1 and len(lost) == 1
    assert 'id="patient-name">Anne Dupré' in won[0] and "Dupré" not in lost[0]

    db.rollback()
    patient = db.get(PatientRequest, request_id)
    assert patient.status == "matched"
    winner = patient.matched_doctor_id
    assert winner in three_doctors[:2]
    places = {d: db.get(Doctor, d).capacity_remaining for d in three_doctors}
    assert places[winner] == 2 and sum(places.values()) == 3 * 3 - 1
    statuses = {o.doctor_id: o.status for o in db.scalars(select(DoctorOffer))}
    assert statuses[winner] == "accepted"
    assert sorted(s for d, s in statuses.items() if d != winner) == ["withdrawn", "withdrawn"]
    # The patient's SMS names the winner and how to book; the others are told it is closed.
    sms = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "outcome")).one()
    doctor = db.get(Doctor, winner)
    assert sms.channel == "sms" and f"Dr {doctor.given_name} {doctor.family_name}" in sms.body
    assert "1er RDV" in sms.body  # "rendez-vous" in the e-mail: the SMS keeps within two segments
    told = {m.doctor_id for m in db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer_withdrawn"))}
    assert told == set(three_doctors) - {winner}
    # The third doctor, late: thanked, nothing taken.
    late = client.post(links[three_doctors[2]], data={"action": "accept"})
    assert "Ce patient a déjà été pris en charge, merci." in late.text
    db.rollback()
    assert db.get(Doctor, three_doctors[2]).capacity_remaining == 3


def test_many_concurrent_acceptances_take_exactly_one_place(client, coordinator, make_account, db):
    doctors = [add_doctor(client, coordinator, n, "Arras", "62000", capacity_remaining=2) for n in range(1, 7)]
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, doctors)
    links = _links(db)
    client.cookies.clear()

    def accept(doctor_id: int) -> int | None:
        page = client.post(links[doctor_id], data={"action": "accept"}).text
        return doctor_id if "vous prenez ce patient en charge" in page else None

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(accept, doctors * 2))  # each link posted twice (a double click)
    assert len({r for r in results if r is not None}) == 1  # the winner's second post shows it its patient
    db.rollback()
    assert sum(db.get(Doctor, d).capacity_remaining for d in doctors) == 2 * 6 - 1
    assert db.scalars(select(DoctorOffer).where(DoctorOffer.status == "accepted")).all().__len__() == 1


def test_a_doctor_who_declines_gives_a_reason_and_the_offer_stays_with_the_others(
    client, make_account, three_doctors, db
):
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors)
    links = _links(db)
    client.cookies.clear()
    page = client.post(links[three_doctors[0]], data={"action": "decline", "reason": "Cabinet complet ce mois"})
    assert "C'est noté, merci de votre réponse" in page.text
    assert "J'accepte" not in client.get(links[three_doctors[0]]).text  # answered: nothing more to click
    db.rollback()
    offer = db.scalars(select(DoctorOffer).where(DoctorOffer.doctor_id == three_doctors[0])).one()
    assert (offer.status, offer.reason) == ("declined", "Cabinet complet ce mois")
    assert "vous prenez ce patient en charge" in client.post(links[three_doctors[1]], data={"action": "accept"}).text


def test_the_page_refuses_a_doctor_who_cannot_take_this_patient(client, make_account, coordinator, db):
    full = add_doctor(client, coordinator, 1, "Arras", "62000", capacity_remaining=0, accepting_new_patients=False)
    request_id = submit(client).json()["id"]
    page = _offer_from_the_page(client, make_account, request_id, [full])
    assert "Médecins impossibles à solliciter pour ce patient" in flash_of(page.text)
    db.rollback()
    assert db.scalars(select(DoctorOffer)).all() == []


def test_fairness_a_doctor_with_pending_offers_is_counted_further(client, coordinator, make_account, db):
    near = add_doctor(client, coordinator, 1, "Tilloy-lès-Mofflaines", "62217")
    arras = add_doctor(client, coordinator, 2, "Arras", "62000")
    first = submit(client).json()["id"]
    suggestions = client.get(f"/api/v1/requests/{first}/suggestions", headers=coordinator).json()
    assert [d["doctor_id"] for d in suggestions["doctors"]] == [near, arras]
    second = submit(client, given_name="Paul").json()["id"]
    extras = [submit(client, given_name=other).json()["id"] for other in ("Luc", "Marc")]
    for patient in (first, *extras):
        _offer_from_the_page(client, make_account, patient, [near])
    # Three offers pending: 3 × 2 km further, behind the doctor of Arras.
    body = client.get(f"/api/v1/requests/{second}/suggestions", headers=coordinator).json()
    assert [d["doctor_id"] for d in body["doctors"]] == [arras, near]
    assert any("3 proposition(s) en attente" in r for r in body["doctors"][1]["reasons"])
    page = client.get(f"/espace/demandes/{second}").text
    assert "chaque proposition en attente ou acceptée depuis 30 jours comptant 2 km de plus" in page


def test_automatic_mode_moves_to_the_next_doctor_after_the_delay(
    client, coordinator, engine, settings, db, monkeypatch
):
    near = add_doctor(client, coordinator, 1, "Tilloy-lès-Mofflaines", "62217")
    arras = add_doctor(client, coordinator, 2, "Arras", "62000")
    territory = db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one()
    territory.auto_offers_since = utcnow() - timedelta(minutes=1)
    db.commit()
    request_id = submit(client).json()["id"]
    sessions = sessionmaker(bind=for_writing(engine))
    clock = [utcnow()]
    worker = OutboxWorker(settings, sessions, {}, clock=lambda: clock[0])
    other = OutboxWorker(settings, sessions, {}, clock=lambda: clock[0])

    assert worker.offers_if_due() == 1
    assert other.offers_if_due() == 0  # a second worker: nothing twice
    db.rollback()
    pending = db.scalars(select(DoctorOffer).where(DoctorOffer.status == "pending")).all()
    assert [(o.doctor_id, o.automatic) for o in pending] == [(near, True)]
    assert db.get(PatientRequest, request_id).status == "proposed"

    # 71 hours later, still waiting; past 72 hours, the next doctor gets it.
    monkeypatch.setattr("app.requests.offers.utcnow", lambda: clock[0])
    clock[0] += timedelta(hours=71)
    assert worker.offers_if_due() == 0
    clock[0] += timedelta(hours=2)
    assert worker.offers_if_due() == 1
    assert other.offers_if_due() == 0
    db.rollback()
    statuses = {o.doctor_id: o.status for o in db.scalars(select(DoctorOffer))}
    assert statuses == {near: "expired", arras: "pending"}
    # Every message went through the outbox: one e-mail per offer to each doctor.
    mails = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer")).all()
    assert sorted(m.doctor_id for m in mails if m.channel == "email") == sorted([near, arras])
    # The lapsed link now says so.
    link = LINK.search(next(m.body for m in mails if m.doctor_id == near and m.channel == "email")).group(1)
    assert "Cette proposition a expiré, merci." in client.get(link).text
    # Nobody left: the worker stops offering and hands the request back (test_offer_reminders).
    clock[0] += timedelta(hours=73)
    assert worker.offers_if_due() == 0


def test_the_automatic_mode_is_off_by_default(client, coordinator, engine, settings, db):
    add_doctor(client, coordinator, 1, "Arras", "62000")
    submit(client)
    worker = OutboxWorker(settings, sessionmaker(bind=for_writing(engine)), {})
    assert worker.offers_if_due() == 0
    db.rollback()
    assert db.scalars(select(DoctorOffer)).all() == []


def test_the_coordinator_switches_the_automatic_mode_from_the_queue(client, make_account, db):
    token = _sign_in(client, make_account)
    queue = client.get("/espace/demandes").text
    assert "Propositions automatiques aux médecins : <strong>désactivées</strong>" in queue
    page = client.post("/espace/propositions-automatiques", data={"csrf_token": token, "mode": "on"})
    assert flash_of(page.text).startswith("Propositions automatiques activées")
    db.rollback()
    assert db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one().auto_offers_since is not None
    client.post("/espace/propositions-automatiques", data={"csrf_token": token, "mode": "off"})
    db.rollback()
    assert db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one().auto_offers_since is None


def test_the_indicators_count_the_acceptances(client, make_account, coordinator, three_doctors, db):
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors)
    links = _links(db)
    client.post(links[three_doctors[0]], data={"action": "decline"})
    client.post(links[three_doctors[1]], data={"action": "accept"})
    figures = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator).json()
    assert figures["offers"] == {"made": 3, "pending": 0, "accepted": 1, "declined": 1, "expired": 0, "withdrawn": 1}
    page = client.get("/espace/indicateurs").text
    assert re.search(r"… acceptées</th><td class=\"num\">1<", page)


def test_the_patient_is_told_the_doctor_on_the_follow_up_page(client, make_account, three_doctors, db):
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors)
    links = _links(db)
    client.cookies.clear()
    client.post(links[three_doctors[2]], data={"action": "accept"})
    db.rollback()
    receipt = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "receipt")).one()
    follow_up = re.search(r"(/suivi/[A-Za-z0-9_\-]+)", receipt.body).group(1)
    page = client.get(follow_up).text
    assert 'id="matched-doctor"' in page and "Dr Test Docteur3" in page and "1 place de la Mairie, Arras" in page
    assert "Pour votre premier rendez-vous, appelez le cabinet" in page or "contactez le cabinet" in page


def test_a_landline_patient_matched_by_an_offer_is_to_call_in_the_queue(client, make_account, three_doctors, db):
    request_id = submit(client, phone="03 21 00 00 00", email=None, preferred_channel="phone").json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors[:1])
    links = _links(db)
    token = csrf_of(client.get("/espace/demandes").text)
    assert token
    client.post(links[three_doctors[0]], data={"action": "accept"})
    db.rollback()
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "outcome")).all() == []  # no SMS to a landline
    queue = client.get("/espace/demandes?statut=matched").text
    assert "à appeler" in queue and "donnez-lui le nom, l'adresse et le téléphone de son médecin" in queue


def test_a_signed_in_doctor_sees_its_pending_offers_on_its_page(client, make_account, three_doctors, db):
    from app.demo_people import demo_rpps

    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors[:1])
    from app.accounts.models import User

    make_account("doctor", ["grand-arras"], doctor_rpps=demo_rpps(501))  # doctor 1's account
    email = db.scalars(select(User.email).where(User.doctor_id == three_doctors[0])).one()
    client.cookies.clear()
    response = client.post("/espace/connexion", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/espace/mon-cabinet").text
    assert 'id="pending-offers"' in page and "Patient de Tilloy-lès-Mofflaines, 40-49 ans" in page
    link = LINK.search(page).group(1)
    assert "vous prenez ce patient en charge" in client.post(link, data={"action": "accept"}).text
    assert 'id="pending-offers"' not in client.get("/espace/mon-cabinet").text


def test_two_workers_that_both_found_the_request_waiting_offer_it_once(
    client, coordinator, engine, settings, db, monkeypatch
):
    add_doctor(client, coordinator, 1, "Tilloy-lès-Mofflaines", "62217")
    add_doctor(client, coordinator, 2, "Arras", "62000")
    territory = db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one()
    territory.auto_offers_since = utcnow() - timedelta(minutes=1)
    db.commit()
    request_id = submit(client).json()["id"]
    sessions = sessionmaker(bind=for_writing(engine))
    with sessions() as first:
        assert offers.run_automatic(first, settings, utcnow()) == 1
    # The second read before the first committed: it still sees the request waiting, no doctor asked.
    waiting = offers._waiting_for_an_offer
    monkeypatch.setattr(
        offers, "_waiting_for_an_offer", lambda s, t: waiting(s, t) or [s.get(PatientRequest, request_id)]
    )
    monkeypatch.setattr(offers, "offers_of_request", lambda *_: [])
    with sessions() as second:
        assert offers.run_automatic(second, settings, utcnow()) == 0  # the unique index let the first only
    db.rollback()
    assert len(db.scalars(select(DoctorOffer)).all()) == 1


def test_a_match_recorded_by_the_coordinator_withdraws_the_pending_offers(
    client, coordinator, make_account, three_doctors, db
):
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors[:2])
    links = _links(db)
    response = client.post(
        f"/api/v1/requests/{request_id}/transitions",
        json={"to": "matched", "doctor_id": three_doctors[2]},
        headers=coordinator,
    )
    assert response.status_code == 200, response.text
    db.rollback()
    assert {o.status for o in db.scalars(select(DoctorOffer))} == {"withdrawn"}
    assert (
        "Ce patient a déjà été pris en charge, merci."
        in client.post(links[three_doctors[0]], data={"action": "accept"}).text
    )
    db.rollback()
    assert db.get(Doctor, three_doctors[0]).capacity_remaining == 3


def test_a_lapsed_offer_cannot_be_accepted_and_the_accepting_doctors_read_is_audited(
    client, make_account, three_doctors, db, monkeypatch
):
    from app.audit.models import AuditEvent

    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors[:2])
    links = _links(db)
    client.cookies.clear()
    later = utcnow() + timedelta(hours=73)
    monkeypatch.setattr("app.requests.offers.utcnow", lambda: later)
    page = client.post(links[three_doctors[0]], data={"action": "accept"}).text
    assert "Cette proposition a expiré, merci." in page
    db.rollback()
    assert db.get(Doctor, three_doctors[0]).capacity_remaining == 3
    assert db.get(PatientRequest, request_id).status == "proposed"
    monkeypatch.undo()
    client.post(links[three_doctors[1]], data={"action": "accept"})
    client.get(links[three_doctors[1]])
    db.rollback()
    reads = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "read", AuditEvent.object_id == str(request_id))
    ).all()
    assert any("lien de proposition" in r.actor for r in reads)
    actions = set(db.scalars(select(AuditEvent.action)).all())
    assert {"request.offer", "request.offer_accepted"} <= actions


def test_automatic_mode_moves_to_the_next_doctor_when_one_declines(client, coordinator, engine, settings, db):
    near = add_doctor(client, coordinator, 1, "Tilloy-lès-Mofflaines", "62217")
    arras = add_doctor(client, coordinator, 2, "Arras", "62000")
    territory = db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one()
    territory.auto_offers_since = utcnow() - timedelta(minutes=1)
    db.commit()
    submit(client)
    sessions = sessionmaker(bind=for_writing(engine))
    with sessions() as worker:
        assert offers.run_automatic(worker, settings, utcnow()) == 1
    link = _links(db)[near]
    assert "C'est noté" in client.post(link, data={"action": "decline", "reason": "Congés"}).text
    with sessions() as worker:
        assert offers.run_automatic(worker, settings, utcnow()) == 1
    db.rollback()
    assert {o.doctor_id: o.status for o in db.scalars(select(DoctorOffer))} == {near: "declined", arras: "pending"}


def test_without_public_url_the_automatic_mode_hands_out_no_link(client, coordinator, engine, settings, db):
    add_doctor(client, coordinator, 1, "Arras", "62000")
    territory = db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one()
    territory.auto_offers_since = utcnow() - timedelta(minutes=1)
    db.commit()
    submit(client)
    with sessionmaker(bind=for_writing(engine))() as worker:
        assert offers.run_automatic(worker, settings.model_copy(update={"public_url": None}), utcnow()) == 0
    db.rollback()
    assert db.scalars(select(DoctorOffer)).all() == []


def test_the_offer_says_what_a_doctor_needs_to_decide_by_e_mail_and_by_sms_to_a_mobile(
    client, make_account, coordinator, db
):
    body = doctor_body(1, "Arras", "62000", home_visits=True, languages=["en"])
    response = client.post("/api/v1/doctors", json={**body, "phone": "06 11 22 33 44"}, headers=coordinator)
    assert response.status_code == 201, response.text
    doctor_id = response.json()["id"]
    request_id = submit(client, ald=True, needs_home_visits=True, languages=["en"]).json()["id"]
    _offer_from_the_page(client, make_account, request_id, [doctor_id], note="")
    db.rollback()
    sent = {m.channel: m for m in db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "offer"))}
    assert set(sent) == {"email", "sms"} and sent["sms"].recipient == "+33611223344"
    link = LINK.search(sent["email"].body).group(1)
    assert link in sent["sms"].body  # the same signed link by both channels
    client.cookies.clear()
    page = re.sub(r"\s+", " ", client.get(link).text)
    assert "Tilloy-lès-Mofflaines (à environ " in page and " km de votre cabinet)" in page
    assert "<dt>Priorité</dt><dd>ALD" in page
    assert "<dt>Visites à domicile</dt><dd>nécessaires</dd>" in page
    assert "<dt>Langues</dt><dd>anglais</dd>" in page
    assert "Note de la coordination" not in page  # none given
    assert "Dupré" not in page and "06 12 34 56 78" not in page


def test_the_offer_link_is_short_private_and_kept_only_hashed(client, make_account, three_doctors, db, settings):
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors[:2])
    links = _links(db)
    client.cookies.clear()
    token = links[three_doctors[0]].rsplit("/", 1)[1]
    # 22 URL-safe characters (128 bits): the whole link fits a phone's line or two.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
    assert len(f"{settings.public_url}".rstrip("/") + links[three_doctors[0]]) <= 80
    offer = db.scalars(select(DoctorOffer).where(DoctorOffer.doctor_id == three_doctors[0])).one()
    # Only its SHA-256 is stored, and the link names nothing of the patient or the doctor.
    assert offer.link_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str([getattr(offer, c.key) for c in DoctorOffer.__table__.columns])
    assert str(offer.id) not in token and str(request_id) not in token
    assert client.get(links[three_doctors[0]]).status_code == 200
    # One offer per link: the other doctor's is another; a character changed, or a token of the
    # right shape made up, opens nothing.
    assert links[three_doctors[1]] != links[three_doctors[0]]
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    for made_up in (changed, secrets.token_urlsafe(16), token[:21], token + "A"):
        assert client.get(f"/medecins/propositions/{made_up}").status_code == 404
    # The token is the service's key's: under another key, the stored hash alone opens nothing.
    assert offers.offer_of_link(db, settings, token).id == offer.id
    assert offers.offer_of_link(db, settings.model_copy(update={"secret_key": "another-key"}), token) is None


def test_a_signed_link_sent_before_the_short_ones_still_answers_its_offer_until_it_lapses(
    client, make_account, three_doctors, db, settings, monkeypatch
):
    request_id = submit(client).json()["id"]
    _offer_from_the_page(client, make_account, request_id, three_doctors)
    client.cookies.clear()
    db.rollback()
    made = {o.doctor_id: o for o in db.scalars(select(DoctorOffer))}
    short_links = _links(db)
    # Two offers as made before the short links (0028): no hash, a signed link (payload.signature).
    for doctor_id in three_doctors[:2]:
        made[doctor_id].link_hash = None
    db.commit()
    old = {d: f"/medecins/propositions/{offers.legacy_token(settings, made[d].id, d)}" for d in three_doctors}
    assert "." in old[three_doctors[0]] and len(old[three_doctors[0]]) > len(short_links[three_doctors[0]]) + 20
    # The reminder and the doctor's space give it the link it was sent.
    assert offers.offer_url(settings, "", made[three_doctors[0]]) == old[three_doctors[0]]
    assert short_links[three_doctors[0]] != old[three_doctors[0]]
    assert client.get(short_links[three_doctors[0]]).status_code == 404  # it was never sent this one
    # An offer with a short link is not opened by the signed shape; a signed link altered opens nothing.
    assert client.get(old[three_doctors[2]]).status_code == 404
    assert client.get(old[three_doctors[0]][:-2]).status_code == 404
    # Past the offer's delay the old link shows it lapsed, as before; within it, it answers.
    later = utcnow() + timedelta(hours=73)
    monkeypatch.setattr("app.requests.offers.utcnow", lambda: later)
    assert "Cette proposition a expiré, merci." in client.post(old[three_doctors[0]], data={"action": "accept"}).text
    monkeypatch.undo()
    page = client.post(old[three_doctors[1]], data={"action": "accept"}).text
    assert "vous prenez ce patient en charge" in page
    db.rollback()
    assert db.get(PatientRequest, request_id).matched_doctor_id == three_doctors[1]

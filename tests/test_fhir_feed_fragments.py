"""The INT_R04 feed answers from per-practitioner fragments (app.fhir.feed): they must say what
the database says, at once after any write that changes it, and never offer a booked slot."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import sessionmaker

from app.core.database import autocommit_reads, for_writing
from app.doctors.models import Doctor, PracticeLocation
from app.fhir import slots as build
from app.snp import repository
from app.snp.models import Centre, Slot
from app.snp.sas_links import sas_booking_links
from app.territories.models import Territory
from tests.fhir_conformance import problems
from tests.test_fhir_slots import FORET, _foret, _slot, _window_query

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"fhir_client_auth": "none"})


@pytest.fixture
def now(monkeypatch):
    moment = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr("app.fhir.endpoints.utcnow", lambda: moment)
    return moment


SECOND = "10003385423"


def _second_doctor(client, make_account) -> int:
    headers = make_account("coordinator", ["grand-arras"])
    body = {
        "cpts": "grand-arras",
        "rpps": SECOND,
        "family_name": "Lemaire",
        "given_name": "Claire",
        "email": "claire.lemaire@example.fr",
        "phone": "03 21 55 12 34",
        "locations": [{"address": "4 rue Gambetta", "postcode": "62000", "city": "Arras"}],
    }
    response = client.post("/api/v1/doctors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _free_ids(bundle: dict) -> set[int]:
    return {int(e["resource"]["id"]) for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot"}


def _resource(bundle: dict, kind: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def _resources(bundle: dict, kind: str) -> dict[str, dict]:
    return {e["resource"]["id"]: e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind}


def _centre(db, territory_id: int) -> int:
    centre = Centre(
        territory_id=territory_id,
        name="CSNP d'Arras",
        address="1 place de la Gare",
        postcode="62000",
        insee_code="62041",
        city="Arras",
        phone="03 21 00 00 00",
    )
    db.add(centre)
    db.commit()
    return centre.id


def _centre_slot(db, centre_id: int, worked_by: int | None, start: datetime, visibility: int = 2 | 8) -> int:
    """A centre's slot open to the SAS (SNP), worked by a named doctor (or nobody)."""
    centre = db.get(Centre, centre_id)
    slot = Slot(
        territory_id=centre.territory_id,
        centre_id=centre_id,
        worked_by_doctor_id=worked_by,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        kind="AMB",
        visibility=visibility,
        sas_visible=bool(visibility & 7),
        appointment_type="ROUTINE",
        status="free",
    )
    db.add(slot)
    db.commit()
    return slot.id


def test_the_fragments_answer_what_a_bundle_built_from_the_database_says(client, make_account, db, now):
    doctor_id = _foret(client, make_account)
    for hours in (30, 4, 50, 4):  # two at the same time: ordered by id
        _slot(db, doctor_id, now + timedelta(hours=hours))
    _slot(db, doctor_id, now + timedelta(hours=6), status="booked")
    _slot(db, doctor_id, now + timedelta(hours=8), visibility=8)  # not served to the SAS
    territory_id = db.get(Doctor, doctor_id).territory_id
    centre_id = _centre(db, territory_id)
    worked = _centre_slot(db, centre_id, doctor_id, now + timedelta(hours=5))  # a centre's, worked by him
    _centre_slot(db, centre_id, None, now + timedelta(hours=7))  # worked by nobody: not served
    query = _window_query(now, 3, [FORET])
    client.get(query)  # fills the fragments
    answer = client.get(query)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/fhir+json")
    bundle = answer.json()
    assert problems(bundle) == []

    app = client.app
    with autocommit_reads(app.state.engine) as connection:
        rows = repository.sas_free_slots(connection, [FORET], now, now + timedelta(days=3))
    links = sas_booking_links(app)
    expires = links.expires(now)
    base = "http://127.0.0.1:8000"
    prefix = f"{base}/espace/soins-non-programmes/creneaux/"
    expected = build.searchset(
        rows,
        build.Includes(
            ["Slot:schedule", "Slot:service-type-reference"], ["Schedule:actor", "HealthcareService:organization"]
        ),
        f"{base}/fhir",
        bundle["link"][0]["url"],
        lambda slot_id: f"{prefix}{slot_id}/reserver?origin=sas&sas={links.token(slot_id, expires)}",
    )
    assert bundle["total"] == 5 and worked in _free_ids(bundle)
    assert set(_resources(bundle, "Schedule")) == {f"{doctor_id}-{rows[0].location_id}", f"{doctor_id}-c{centre_id}"}
    at_centre = _resources(bundle, "PractitionerRole")[f"{doctor_id}-c{centre_id}"]
    assert at_centre["contained"][0]["address"]["line"] == ["1 place de la Gare"]
    assert {**bundle, "id": None} == {**expected, "id": None}


def test_a_centre_slot_follows_the_doctor_named_to_work_it(client, make_account, db, engine, now):
    """The fragments of both doctors move when a centre's slot changes hands, is booked, or
    the centre's address changes: each answer is what the database says at once."""
    doctor_id = _foret(client, make_account)
    other = Doctor(
        territory_id=db.get(Doctor, doctor_id).territory_id,
        rpps="10003000004",
        civility="Mme",
        family_name="Remplacante",
        given_name="Claire",
        specialty="SM54",
        email="claire@example.fr",
    )
    db.add(other)
    db.commit()
    centre_id = _centre(db, other.territory_id)
    own = _slot(db, doctor_id, now + timedelta(hours=4))
    worked = _centre_slot(db, centre_id, doctor_id, now + timedelta(hours=5))
    foret, claire = _window_query(now, 3, [FORET]), _window_query(now, 3, [other.rpps])
    assert _free_ids(client.get(foret).json()) == {own, worked}
    assert client.get(claire).json()["total"] == 0
    writer = sessionmaker(bind=for_writing(engine))

    def write(statement) -> None:
        with writer() as session:
            session.execute(statement)
            session.commit()

    write(update(Slot).where(Slot.id == worked).values(worked_by_doctor_id=other.id))  # bumps both
    assert _free_ids(client.get(foret).json()) == {own}
    bundle = client.get(claire).json()
    assert _free_ids(bundle) == {worked} and set(_resources(bundle, "Schedule")) == {f"{other.id}-c{centre_id}"}
    write(update(Centre).where(Centre.id == centre_id).values(address="3 rue de la Gare"))
    bundle = client.get(claire).json()
    assert _resource(bundle, "PractitionerRole")["contained"][0]["address"]["line"] == ["3 rue de la Gare"]
    with writer() as session:
        assert repository.mark_booked(session, worked, now)
        session.commit()
    assert client.get(claire).json()["total"] == 0
    with writer() as session:
        repository.mark_free(session, worked)
        session.commit()
    assert _free_ids(client.get(claire).json()) == {worked}
    write(update(Slot).where(Slot.id == worked).values(worked_by_doctor_id=None))  # nobody works it now
    assert client.get(claire).json()["total"] == 0
    write(update(Slot).where(Slot.id == worked).values(worked_by_doctor_id=doctor_id))
    assert _free_ids(client.get(foret).json()) == {own, worked}
    write(delete(Slot).where(Slot.id == worked))
    assert _free_ids(client.get(foret).json()) == {own}
    added = _centre_slot(db, centre_id, other.id, now + timedelta(hours=9))  # inserted, worked by her
    assert _free_ids(client.get(claire).json()) == {added}


def test_each_write_that_changes_the_feed_shows_in_the_next_answer(client, make_account, db, engine, now):
    doctor_id = _foret(client, make_account)
    first, second = (_slot(db, doctor_id, now + timedelta(hours=h)) for h in (4, 5))
    query = _window_query(now, 3, [FORET])
    assert _free_ids(client.get(query).json()) == {first, second}
    writer = sessionmaker(bind=for_writing(engine))

    def write(statement) -> dict:
        with writer() as session:
            session.execute(statement)
            session.commit()
        return client.get(query).json()

    with writer() as session:  # booked, as the booking service does it
        assert repository.mark_booked(session, first, now)
        session.commit()
    assert _free_ids(client.get(query).json()) == {second}
    with writer() as session:  # and cancelled
        repository.mark_free(session, first)
        session.commit()
    assert _free_ids(client.get(query).json()) == {first, second}
    third = _slot(db, doctor_id, now + timedelta(hours=6))  # a pattern's new slot
    assert _free_ids(client.get(query).json()) == {first, second, third}
    assert _free_ids(write(delete(Slot).where(Slot.id == third))) == {first, second}
    moved = write(
        update(Slot).where(Slot.id == second).values(start_at=now + timedelta(days=5), end_at=now + timedelta(days=6))
    )
    assert _free_ids(moved) == {first}

    bundle = write(update(Doctor).where(Doctor.id == doctor_id).values(family_name="Forêt-Dupont"))
    assert _resource(bundle, "Practitioner")["name"][0]["family"] == "Forêt-Dupont"
    bundle = write(
        update(PracticeLocation).where(PracticeLocation.doctor_id == doctor_id).values(address="1 rue Neuve")
    )
    assert _resource(bundle, "PractitionerRole")["contained"][0]["address"]["line"] == ["1 rue Neuve"]
    territory_id = db.get(Doctor, doctor_id).territory_id
    bundle = write(update(Territory).where(Territory.id == territory_id).values(name="CPTS renommée"))
    assert _resource(bundle, "HealthcareService")["name"] == "Soins non programmés – CPTS renommée"
    bundle = write(update(Slot).where(Slot.id == first).values(visibility=8, sas_visible=False))
    assert bundle["total"] == 0
    write(update(Slot).where(Slot.id == first).values(visibility=9, sas_visible=True))
    assert write(update(Doctor).where(Doctor.id == doctor_id).values(active=False))["total"] == 0


def test_a_change_elsewhere_in_the_doctor_takes_no_version(client, make_account, db, engine, now):
    # The intake lowers a doctor's capacity many times a day: that must not rebuild its fragments.
    doctor_id = _foret(client, make_account)
    before = db.get(Doctor, doctor_id).sas_feed_version
    with sessionmaker(bind=for_writing(engine))() as session:
        session.execute(update(Doctor).where(Doctor.id == doctor_id).values(capacity_remaining=3))
        session.commit()
    db.expire_all()
    assert db.get(Doctor, doctor_id).sas_feed_version == before


def test_a_booking_raced_against_the_feed_is_never_offered_once_committed(client, make_account, db, engine, now):
    """Bookings commit one after another while the feed answers in a loop: no answer whose read
    began after a booking's commit lists that slot as free."""
    doctor_id = _foret(client, make_account)
    slots = [_slot(db, doctor_id, now + timedelta(hours=2, minutes=20 * n)) for n in range(40)]
    # A second practitioner in the same search whose slots nobody books: every answer after the
    # first reuses its fragment, however fast the bookings change the first one's.
    untouched_id = _second_doctor(client, make_account)
    untouched = _slot(db, untouched_id, now + timedelta(hours=5))
    query = _window_query(now, 3, [FORET, SECOND])
    committed: dict[int, float] = {}
    answers: list[tuple[float, set[int]]] = []
    done = threading.Event()
    writer = sessionmaker(bind=for_writing(engine))

    def book() -> None:
        try:
            for slot_id in slots:
                with writer() as session:
                    assert repository.mark_booked(session, slot_id, now)
                    session.commit()
                committed[slot_id] = time.perf_counter()
        finally:
            done.set()

    def read() -> None:
        while not done.is_set() or len(answers) < 5:
            began = time.perf_counter()
            response = client.get(query)
            assert response.status_code == 200
            answers.append((began, _free_ids(response.json())))

    threads = [threading.Thread(target=book), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(committed) == len(slots) and len(answers) >= 5
    stale = [
        (slot_id, began)
        for began, free in answers
        for slot_id in free
        if slot_id in committed and committed[slot_id] < began
    ]
    assert stale == []
    assert all(untouched in free for _, free in answers)
    # asked after every booking: nothing of the first is free
    assert _free_ids(client.get(query).json()) == {untouched}
    cache = client.app.state.sas_feed_fragments
    assert cache.hits > 0  # the race ran against fragments that were reused, not only rebuilt


def test_a_name_holding_the_fragments_placeholder_is_still_a_valid_answer(client, make_account, db, engine, now):
    doctor_id = _foret(client, make_account)
    _slot(db, doctor_id, now + timedelta(hours=4))
    with sessionmaker(bind=for_writing(engine))() as session:
        session.execute(update(Doctor).where(Doctor.id == doctor_id).values(family_name="A\ue000base\ue000B"))
        session.commit()
    response = client.get(_window_query(now, 3, [FORET]))
    assert response.status_code == 200
    bundle = response.json()
    assert problems(bundle) == [] and bundle["total"] == 1
    assert _resource(bundle, "Practitioner")["name"][0]["family"] == "A\ufffdbase\ufffdB"

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
from app.snp.models import Slot
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


def _free_ids(bundle: dict) -> set[int]:
    return {int(e["resource"]["id"]) for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot"}


def _resource(bundle: dict, kind: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def test_the_fragments_answer_what_a_bundle_built_from_the_database_says(client, make_account, db, now):
    doctor_id = _foret(client, make_account)
    for hours in (30, 4, 50, 4):  # two at the same time: ordered by id
        _slot(db, doctor_id, now + timedelta(hours=hours))
    _slot(db, doctor_id, now + timedelta(hours=6), status="booked")
    _slot(db, doctor_id, now + timedelta(hours=8), visibility=8)  # not served to the SAS
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
    assert bundle["total"] == 4
    assert {**bundle, "id": None} == {**expected, "id": None}


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
    query = _window_query(now, 3, [FORET])
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
    assert _free_ids(client.get(query).json()) == set()  # asked after every booking: nothing free
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

"""Places as médecin traitant: taken one at a time, never below zero, whatever the concurrency."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing
from app.demo_people import demo_rpps
from app.doctors import repository
from app.doctors.models import Doctor

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def doctor_id(client, make_account):
    headers = make_account("coordinator", ["grand-arras"])
    body = {
        "cpts": "grand-arras",
        "rpps": demo_rpps(950),
        "family_name": "Caron",
        "given_name": "Paul",
        "email": "paul.caron@example.fr",
        "locations": [{"address": "1 rue Pasteur", "postcode": "62000", "city": "Arras"}],
        "availability": {"accepting_new_patients": True, "capacity_remaining": 10},
    }
    return client.post("/api/v1/doctors", json=body, headers=headers).json()["id"]


def test_fifty_concurrent_matches_over_http_take_exactly_ten_places(client, make_account, doctor_id, db):
    headers = make_account("coordinator", ["grand-arras"])

    def match(_: int) -> int:
        return client.post(f"/api/v1/doctors/{doctor_id}/take-place", headers=headers).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(match, range(50)))
    assert statuses.count(200) == 10
    assert statuses.count(409) == 40
    assert db.get(Doctor, doctor_id).capacity_remaining == 0


def test_fifty_concurrent_transactions_never_go_below_zero(engine, doctor_id, db):
    sessions = sessionmaker(bind=for_writing(engine))

    def take(_: int) -> bool:
        with sessions() as session:
            taken = repository.take_place(session, doctor_id)
            session.commit()
            return taken

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(take, range(50)))
    assert results.count(True) == 10
    assert db.get(Doctor, doctor_id).capacity_remaining == 0


def test_no_place_is_taken_from_a_doctor_past_its_end_date(client, make_account, doctor_id, db):
    from datetime import date

    db.get(Doctor, doctor_id).available_until = date(2020, 1, 1)
    db.commit()
    headers = make_account("coordinator", ["grand-arras"])
    assert client.post(f"/api/v1/doctors/{doctor_id}/take-place", headers=headers).status_code == 409

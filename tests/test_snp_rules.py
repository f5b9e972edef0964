"""The rules of unscheduled care in their home (issue 11): "bookable" said once in Python and
once in SQL, and agreeing; a lost booking race answered with a 409, through the booking page
as through the API, never a 500."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from html import unescape
from threading import Barrier
from typing import get_args

import pytest
from sqlalchemy import func, select, update

from app.accounts.principal import operator
from app.core.database import utcnow
from app.demo_people import demo_rpps
from app.doctors import service as doctors
from app.doctors.models import PracticeLocation
from app.doctors.schemas import DoctorCreate, LocationIn
from app.snp.models import AppointmentType, Booking, BookingStatus, Slot, SlotKind, SlotStatus, Visibility
from app.snp.rules import SLOT_TAKEN, STARTED, WALK_IN, bookable_clause, is_bookable, why_not_bookable
from app.snp.schemas import AppointmentTypeCode, Kind, VisibilityCode
from app.territories.models import Territory
from tests.helpers.workspace import COORDINATOR, csrf_of, sign_in

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # the clock, injected: the rule takes `now`
BOARD = "/espace/soins-non-programmes"

# (name, status, appointment type, start relative to NOW, has a cancelled booking, bookable?)
SLOTS = [
    ("free, in an hour", SlotStatus.FREE, AppointmentType.BOOKABLE, timedelta(hours=1), False, True),
    ("free, in a second", SlotStatus.FREE, AppointmentType.BOOKABLE, timedelta(seconds=1), False, True),
    ("booked", SlotStatus.BOOKED, AppointmentType.BOOKABLE, timedelta(hours=1), False, False),
    ("walk-in", SlotStatus.FREE, AppointmentType.WALK_IN, timedelta(hours=1), False, False),
    ("booked walk-in", SlotStatus.BOOKED, AppointmentType.WALK_IN, timedelta(hours=1), False, False),
    ("starting now", SlotStatus.FREE, AppointmentType.BOOKABLE, timedelta(0), False, False),
    ("started ten minutes ago", SlotStatus.FREE, AppointmentType.BOOKABLE, timedelta(minutes=-10), False, False),
    ("past", SlotStatus.FREE, AppointmentType.BOOKABLE, timedelta(days=-1), False, False),
    ("past and booked", SlotStatus.BOOKED, AppointmentType.BOOKABLE, timedelta(days=-1), False, False),
    ("booking cancelled", SlotStatus.FREE, AppointmentType.BOOKABLE, timedelta(hours=2), True, True),
    ("booking cancelled, started", SlotStatus.FREE, AppointmentType.BOOKABLE, timedelta(minutes=-5), True, False),
]


@pytest.fixture
def location(client, db, demo_territories) -> PracticeLocation:
    doctor = doctors.create_doctor(
        db,
        client.app.state.geocoding,
        operator(),
        DoctorCreate(
            cpts="grand-arras",
            rpps=demo_rpps(950),
            family_name="Règle",
            given_name="Alice",
            email="alice.regle@example.fr",
            locations=[LocationIn(address="3 rue Pasteur", postcode="62000", city="Arras")],
        ),
    )
    db.commit()
    return db.scalars(select(PracticeLocation).where(PracticeLocation.doctor_id == doctor.id)).one()


def _slots_of_the_table(db, location: PracticeLocation) -> dict[str, int]:
    ids = {}
    for name, status, appointment_type, offset, cancelled, _ in SLOTS:
        start = NOW + offset
        slot = Slot(
            territory_id=location.doctor.territory_id,
            doctor_id=location.doctor_id,
            location_id=location.id,
            start_at=start,
            end_at=start + timedelta(minutes=20),
            kind=SlotKind.SURGERY.value,
            visibility=int(Visibility.SNP | Visibility.CPTS),
            sas_visible=True,
            appointment_type=appointment_type.value,
            status=status.value,
        )
        db.add(slot)
        db.flush()
        if cancelled:
            db.add(
                Booking(
                    slot_id=slot.id,
                    territory_id=slot.territory_id,
                    status=BookingStatus.CANCELLED.value,
                    family_name="Annulé",
                    given_name="Patient",
                    phone="+33611223344",
                    reason="Annulé",
                    origin="cpts",
                )
            )
        ids[name] = slot.id
    db.commit()
    return ids


def test_python_and_sql_agree_on_which_slots_are_bookable(db, location):
    ids = _slots_of_the_table(db, location)
    in_sql = set(db.scalars(select(Slot.id).where(Slot.id.in_(ids.values()), bookable_clause(NOW))))
    rows = {s.id: s for s in db.scalars(select(Slot).where(Slot.id.in_(ids.values())))}
    expected = {name: bookable for name, *_, bookable in SLOTS}
    in_python = {
        name: is_bookable(rows[i].status, rows[i].appointment_type, rows[i].start_at, NOW) for name, i in ids.items()
    }
    assert in_python == expected
    assert {name: ids[name] in in_sql for name in ids} == expected


def test_the_apis_codes_are_the_enums_codes():
    assert set(get_args(Kind)) == {k.value for k in SlotKind}
    assert set(get_args(AppointmentTypeCode)) == {t.value for t in AppointmentType}
    assert set(get_args(VisibilityCode)) == {v.name for v in Visibility}


def test_why_a_slot_is_not_bookable_is_said_in_french():
    later = NOW + timedelta(hours=1)
    assert why_not_bookable("free", "ROUTINE", later, NOW) is None
    assert why_not_bookable("booked", "ROUTINE", later, NOW) == SLOT_TAKEN
    assert why_not_bookable("free", "WALKIN", later, NOW) == WALK_IN
    assert why_not_bookable("free", "ROUTINE", NOW, NOW) == STARTED


# ---- The booking page under a race ---------------------------------------------------------


@pytest.fixture
def free_slot(client, db, demo_slots) -> int:
    slot_id = db.scalars(
        select(Slot.id)
        .join(Territory, Territory.id == Slot.territory_id)
        .where(
            Territory.slug == "grand-arras",  # the signed-in coordinator's CPTS
            bookable_clause(utcnow() + timedelta(hours=1)),
            Slot.doctor_id.is_not(None),
        )
        .order_by(Slot.start_at)
    ).first()
    db.commit()  # ends the read: later reads see what the app commits (SQLite snapshots)
    return slot_id


def _form(page_html: str, n: int) -> dict[str, str]:
    return {
        "csrf_token": csrf_of(page_html),
        "origin": "",
        "family_name": "Martin",
        "given_name": f"Lucie{n}",
        "phone": "06 12 34 56 78",
        "reason": "Fièvre depuis hier",
    }


def _live_bookings(db, slot_id: int) -> int:
    db.rollback()
    count = db.scalar(
        select(func.count())
        .select_from(Booking)
        .where(Booking.slot_id == slot_id, Booking.status != BookingStatus.CANCELLED.value)
    )
    db.rollback()
    return count


def test_of_concurrent_posts_of_the_booking_page_one_books_the_others_get_the_french_page(client, db, free_slot):
    sign_in(client, COORDINATOR)
    path = f"{BOARD}/creneaux/{free_slot}/reserver"
    page = client.get(path)
    assert page.status_code == 200
    attempts = 8
    together = Barrier(attempts)

    def attempt(n: int):
        together.wait()
        return client.post(path, data=_form(page.text, n), follow_redirects=False)

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        answers = list(pool.map(attempt, range(attempts)))

    assert sorted(a.status_code for a in answers) == [303] + [409] * (attempts - 1)
    for lost in (a for a in answers if a.status_code == 409):
        assert "text/html" in lost.headers["content-type"]
        assert f'id="booking-error">{SLOT_TAKEN}' in unescape(lost.text)
        assert 'name="family_name"' not in lost.text  # no form to try again on a taken slot
    assert _live_bookings(db, free_slot) == 1


def _a_booking_committed_by_someone_else(db, slot_id: int) -> None:
    """What a winner leaves behind when it commits between a loser's check and its write: a
    live booking, while the loser still found the slot free (the unique index is the guard)."""
    slot = db.get(Slot, slot_id)
    db.add(
        Booking(
            slot_id=slot_id,
            territory_id=slot.territory_id,
            family_name="Premier",
            given_name="Arrivé",
            phone="+33611223344",
            reason="Premier arrivé",
            origin="cpts",
        )
    )
    db.execute(update(Slot).where(Slot.id == slot_id).values(status=SlotStatus.FREE.value))
    db.commit()


def test_a_race_lost_at_the_unique_index_is_the_french_409_page_not_a_500(client, db, free_slot):
    sign_in(client, COORDINATOR)
    path = f"{BOARD}/creneaux/{free_slot}/reserver"
    page = client.get(path)
    _a_booking_committed_by_someone_else(db, free_slot)
    lost = client.post(path, data=_form(page.text, 1), follow_redirects=False)
    assert lost.status_code == 409
    assert f'id="booking-error">{SLOT_TAKEN}' in unescape(lost.text)
    assert _live_bookings(db, free_slot) == 1


def test_a_race_lost_at_the_unique_index_is_a_409_through_the_api_too(client, db, free_slot, make_account):
    headers = make_account("coordinator", ["grand-arras"])
    _a_booking_committed_by_someone_else(db, free_slot)
    patient = {"family_name": "Durand", "given_name": "Marc", "phone": "06 11 22 33 44", "reason": "Entorse"}
    lost = client.post(f"/api/v1/snp/slots/{free_slot}/bookings", json=patient, headers=headers)
    assert lost.status_code == 409 and lost.json()["message"] == SLOT_TAKEN
    assert _live_bookings(db, free_slot) == 1


def test_the_booking_page_of_a_slot_that_has_started_offers_no_form(client, db, free_slot):
    sign_in(client, COORDINATOR)
    db.execute(
        update(Slot)
        .where(Slot.id == free_slot)
        .values(start_at=utcnow() - timedelta(minutes=5), end_at=utcnow() + timedelta(minutes=15))
    )
    db.commit()
    page = client.get(f"{BOARD}/creneaux/{free_slot}/reserver")
    assert page.status_code == 200
    assert "Ce créneau n'est plus libre." in unescape(page.text)
    assert 'name="family_name"' not in page.text

"""One unit of work per request: the database dependency commits before the answer is sent, so
a commit that fails is the answer (a 409 for a known constraint, a 503 when the database
refuses, a 500 otherwise), never a 201 or a redirect followed by a rollback; and nothing of the
request is kept."""

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from html import unescape
from threading import Barrier

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, insert, select, text

from app.audit.models import AuditEvent
from app.doctors.models import Doctor
from app.requests.models import PatientRequest
from app.snp.models import Booking, BookingStatus, Slot, SlotStatus
from app.snp.rules import SLOT_TAKEN
from tests.helpers.workspace import COORDINATOR, sign_in
from tests.test_doctors_api import RPPS, create
from tests.test_snp_rules import BOARD, _a_booking_committed_by_someone_else, _form, free_slot  # noqa: F401

pytestmark = pytest.mark.usefixtures("demo_territories")

RPPS_TAKEN = "Un médecin avec ce RPPS est déjà inscrit."


@pytest.fixture
def coordinator(make_account):
    return make_account("coordinator", ["grand-arras"])


@contextmanager
def a_rival_commits_just_before(client, kind: type, rival_sql: str):
    """What a concurrent writer leaves when it commits between a request's last check and its
    commit. On SQLite writers take turns (BEGIN IMMEDIATE), so the rival's row is written on
    the request's own connection, at the start of its commit, once the request holds `kind`."""
    sessions = client.app.state.write_sessions
    written: list[int] = []
    fired: list[bool] = []

    def remember(session, _flush_context) -> None:
        written.extend(o.id for o in session.new if isinstance(o, kind))

    def rival(session) -> None:
        if session.in_nested_transaction():  # a savepoint's release, not the request's commit
            return
        if written and not fired:
            fired.append(True)
            session.execute(text(rival_sql), {"id": written[0]})

    event.listen(sessions, "after_flush", remember)
    event.listen(sessions, "before_commit", rival)
    try:
        yield fired
    finally:
        event.remove(sessions, "before_commit", rival)
        event.remove(sessions, "after_flush", remember)


def _count(db, statement) -> int:
    db.rollback()  # a fresh snapshot: what the app committed
    try:
        return db.scalar(statement)
    finally:
        db.rollback()


def _doctors_with_rpps(db) -> int:
    return _count(db, select(func.count()).select_from(Doctor).where(Doctor.rpps == RPPS))


def _traces(db, action: str, object_type: str = "doctor") -> int:
    trail = (AuditEvent.action == action) & (AuditEvent.object_type == object_type)
    return _count(db, select(func.count()).select_from(AuditEvent).where(trail))


_COPY_DOCTOR = "INSERT INTO doctors ({columns}) SELECT {columns} FROM doctors WHERE id = :id".format(
    columns=", ".join(c.name for c in Doctor.__table__.columns if c.name != "id")
)


def test_a_rival_committed_before_the_requests_commit_is_a_409_and_nothing_is_kept(client, db, coordinator):
    with a_rival_commits_just_before(client, Doctor, _COPY_DOCTOR) as fired:
        answer = create(client, coordinator)
    assert fired, "the rival never wrote: the test proves nothing"
    assert answer.status_code == 409, answer.text  # not a 201 sent before a failed commit
    assert answer.json() == {"error": "conflict", "message": RPPS_TAKEN, "fields": []}
    assert _doctors_with_rpps(db) == 0  # neither the doctor nor the rival's copy (same transaction)
    assert _traces(db, "doctor.create") == 0
    # Without a rival the same request is committed, and answered 201.
    assert create(client, coordinator).status_code == 201
    assert _doctors_with_rpps(db) == 1 and _traces(db, "doctor.create") == 1


def test_a_rival_row_met_at_a_flush_is_the_same_409(client, db, coordinator):
    """The clash surfaces at the service's flush (an INSERT), not at the commit: the same
    answer, from the same list of constraints."""
    sessions = client.app.state.write_sessions
    fired: list[bool] = []

    def rival(session, _context, _instances) -> None:
        for doctor in [o for o in session.new if isinstance(o, Doctor)]:
            if not fired:
                fired.append(True)
                row = {"rpps": doctor.rpps, "civility": "M", "family_name": "Rival", "given_name": "R"}
                values = row | {"territory_id": doctor.territory.id, "email": "rival@example.fr"}
                session.connection().execute(insert(Doctor.__table__).values(**values))

    event.listen(sessions, "before_flush", rival)
    try:
        answer = create(client, coordinator)
    finally:
        event.remove(sessions, "before_flush", rival)
    assert fired
    assert answer.status_code == 409 and answer.json()["message"] == RPPS_TAKEN
    assert _doctors_with_rpps(db) == 0 and _traces(db, "doctor.create") == 0


_COPY_BOOKING = "INSERT INTO snp_bookings ({columns}) SELECT {columns} FROM snp_bookings WHERE id = :id".format(
    columns=", ".join(c.name for c in Booking.__table__.columns if c.name not in ("id", "sas_appointment_id"))
)


def _live_bookings(db, slot_id: int) -> int:
    live = (Booking.slot_id == slot_id) & (Booking.status != BookingStatus.CANCELLED.value)
    return _count(db, select(func.count()).select_from(Booking).where(live))


def _slot_status(db, slot_id: int) -> str:
    db.rollback()
    try:
        return db.scalar(select(Slot.status).where(Slot.id == slot_id))
    finally:
        db.rollback()


def test_the_booking_page_whose_commit_meets_a_rival_booking_is_the_french_409_page(client, db, free_slot):  # noqa: F811
    sign_in(client, COORDINATOR)
    path = f"{BOARD}/creneaux/{free_slot}/reserver"
    page = client.get(path)
    with a_rival_commits_just_before(client, Booking, _COPY_BOOKING) as fired:
        lost = client.post(path, data=_form(page.text, 1), follow_redirects=False)
    assert fired
    assert lost.status_code == 409  # not the 303 to the board
    assert "text/html" in lost.headers["content-type"] and SLOT_TAKEN in unescape(lost.text)
    assert _live_bookings(db, free_slot) == 0
    assert _slot_status(db, free_slot) == SlotStatus.FREE.value
    assert _traces(db, "create", "snp_booking") == 0


def test_a_booking_the_page_refuses_leaves_nothing_behind(client, db, free_slot):  # noqa: F811
    """The page answers a lost race itself (its own 409 page, not an error raised): what the
    refused booking wrote before the unique index stopped it (the slot marked booked) is
    undone, although the request's unit of work then commits."""
    sign_in(client, COORDINATOR)
    path = f"{BOARD}/creneaux/{free_slot}/reserver"
    page = client.get(path)
    _a_booking_committed_by_someone_else(db, free_slot)  # a live booking, the slot still 'free'
    lost = client.post(path, data=_form(page.text, 1), follow_redirects=False)
    assert lost.status_code == 409 and SLOT_TAKEN in unescape(lost.text)
    assert _slot_status(db, free_slot) == SlotStatus.FREE.value  # the loser's mark_booked undone
    assert _live_bookings(db, free_slot) == 1


# ---- PostgreSQL: constraints checked at COMMIT itself ------------------------------------------


@contextmanager
def a_check_at_commit(engine, table: str, sqlstate: str, constraint: str):
    """A deferred constraint trigger: the request's statements all succeed, its COMMIT fails."""
    if engine.dialect.name != "postgresql":
        pytest.skip("deferred constraint triggers are PostgreSQL's")
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION uow_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"RAISE EXCEPTION 'refused at commit' USING ERRCODE = '{sqlstate}', CONSTRAINT = '{constraint}'; "
                "END $$"
            )
        )
        connection.execute(
            text(
                f"CREATE CONSTRAINT TRIGGER uow_test_at_commit AFTER INSERT ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION uow_test_refuse()"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TRIGGER uow_test_at_commit ON {table}"))
            connection.execute(text("DROP FUNCTION uow_test_refuse()"))


def test_on_postgresql_a_known_constraint_failing_at_commit_is_a_409_and_nothing_is_kept(
    engine, client, db, coordinator
):
    with a_check_at_commit(engine, "doctors", "23505", "uq_doctors_rpps"):
        answer = create(client, coordinator)
    assert answer.status_code == 409
    assert answer.json()["message"] == RPPS_TAKEN
    assert _doctors_with_rpps(db) == 0 and _traces(db, "doctor.create") == 0


def test_on_postgresql_an_unknown_constraint_failing_at_commit_is_a_500_logged_without_data(
    engine, client, db, coordinator, caplog
):
    as_a_browser_sees_it = TestClient(client.app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR), a_check_at_commit(engine, "doctors", "23505", "uq_not_ours"):
        answer = create(as_a_browser_sees_it, coordinator)
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal_error"
    assert _doctors_with_rpps(db) == 0
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "IntegrityError" in logged
    assert RPPS not in logged and "Vasseur" not in logged and "refused at commit" not in logged


def test_on_postgresql_a_commit_the_database_refuses_is_a_503_and_nothing_is_kept(engine, client, db, coordinator):
    with a_check_at_commit(engine, "doctors", "40001", "uq_doctors_rpps"):  # serialization failure
        answer = create(client, coordinator)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert _doctors_with_rpps(db) == 0 and _traces(db, "doctor.create") == 0


# ---- The same person, twice at the same instant ------------------------------------------------


def test_the_same_person_submitting_several_times_at_once_has_one_open_request(client, db):
    body = {
        "family_name": "Durand",
        "given_name": "Lucie",
        "birth_date": "1950-03-02",
        "phone": "06 12 34 56 78",
        "postcode": "62217",
        "city": "Tilloy-lès-Mofflaines",
        "no_doctor_reason": "doctor_left",
        "consent": True,
        "cpts": "grand-arras",
    }
    attempts = 6
    together = Barrier(attempts)

    def submit(_):
        together.wait()
        return client.post("/api/v1/requests", json=body)

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        answers = list(pool.map(submit, range(attempts)))

    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code >= 300]
    assert sum(not a.json()["duplicate"] for a in answers) == 1
    assert _count(db, select(func.count()).select_from(PatientRequest)) == 1

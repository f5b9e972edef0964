"""The weekly digest to the coordination: counts only, once a week per CPTS, recorded so that a
second run, a restart or a second worker sends nothing; delivered to a real SMTP server. The
clock is moved, never waited for."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from app.accounts.models import User
from app.accounts.principal import operator
from app.core.database import for_writing
from app.notifications import digest
from app.notifications.models import OutboxMessage, WeeklyDigest
from app.notifications.outbox import OutboxWorker
from app.notifications.senders import SmtpSender
from app.requests.models import PatientRequest, RequestEvent
from app.snp import service as snp_service
from app.snp.models import Booking, Slot
from app.snp.schemas import BookingCreate
from app.territories.models import Territory
from tests.fakes.smtp import SmtpServer
from tests.helpers.workspace import COORDINATOR, OTHER_COORDINATOR

# Monday 7 December 2026, 8:00 in Paris: the week counted is Monday 30 November to Sunday 6.
MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
IN_THE_WEEK = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def write_session(engine):
    with sessionmaker(bind=for_writing(engine), expire_on_commit=False)() as session:
        yield session


@pytest.fixture
def week(write_session, demo_slots, settings):
    """Everything long ago, then in the Grand Arras's last week: 3 new requests (still open),
    1 matched, 1 closed, 2 unscheduled-care bookings."""
    s = write_session
    s.execute(update(PatientRequest).values(created_at=LONG_AGO))
    s.execute(update(RequestEvent).values(at=LONG_AGO))
    s.execute(update(Booking).values(created_at=LONG_AGO))
    arras = PatientRequest.territory.has(slug="grand-arras")
    open_ones = s.scalars(
        select(PatientRequest.id)
        .where(arras, PatientRequest.status == "received", PatientRequest.duplicate_of_id.is_(None))
        .order_by(PatientRequest.id)
        .limit(3)
    ).all()
    s.execute(update(PatientRequest).where(PatientRequest.id.in_(open_ones)).values(created_at=IN_THE_WEEK))
    for status in ("matched", "closed"):
        event = s.scalars(
            select(RequestEvent.id)
            .join(PatientRequest, PatientRequest.id == RequestEvent.request_id)
            .where(arras, RequestEvent.to_status == status)
            .order_by(RequestEvent.id)
        ).first()
        assert event is not None, f"the demo has a {status} request"
        s.execute(update(RequestEvent).where(RequestEvent.id == event).values(at=IN_THE_WEEK))
    territory_id = s.scalar(select(Territory.id).where(Territory.slug == "grand-arras"))
    free = s.scalars(
        select(Slot.id)
        .where(
            Slot.territory_id == territory_id,
            Slot.status == "free",
            Slot.start_at > datetime.now(UTC) + timedelta(hours=2),
        )
        .order_by(Slot.start_at)
        .limit(2)
    ).all()
    patients = [("Vasseur", "Ghislaine", "06 71 72 73 74"), ("Delattre", "Amandine", "06 81 82 83 84")]
    bookings = [
        snp_service.book(
            s,
            settings,
            operator(),
            slot_id,
            BookingCreate(family_name=f, given_name=g, phone=p, reason="Fièvre"),
            "cpts",
        ).id
        for slot_id, (f, g, p) in zip(free, patients, strict=True)
    ]
    s.execute(update(Booking).where(Booking.id.in_(bookings)).values(created_at=IN_THE_WEEK))
    s.commit()


def _digests(db) -> list[OutboxMessage]:
    db.rollback()
    return list(
        db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "weekly_digest").order_by(OutboxMessage.id))
    )


def _personal_data(db) -> list[str]:
    """Every name, phone, e-mail and birth date of the requests and bookings, as stored and as shown."""
    needles = []
    for r in db.scalars(select(PatientRequest)):
        needles += [r.family_name, r.given_name, r.phone, r.birth_date.strftime("%d/%m/%Y"), r.birth_date.isoformat()]
        needles += [r.email] if r.email else []
        if r.phone.startswith("+33"):
            national = "0" + r.phone[3:]
            needles.append(" ".join(national[i : i + 2] for i in range(0, 10, 2)))
    for b in db.scalars(select(Booking)):
        needles += [b.family_name, b.given_name, b.phone]
    return [n for n in needles if n and len(n) > 2]


def test_the_digest_counts_the_week_for_each_cpts_without_personal_data(
    client, db, write_session, week, settings, coordinator
):
    db.rollback()
    coordinators = {u.email for u in db.scalars(select(User).where(User.role == "coordinator"))}
    assert {COORDINATOR, OTHER_COORDINATOR} <= coordinators
    # A deactivated coordinator gets nothing.
    write_session.execute(update(User).where(User.email == OTHER_COORDINATOR).values(active=False))
    write_session.commit()

    assert digest.run(write_session, settings, MONDAY) == 2  # both CPTS
    messages = _digests(db)
    by_recipient = {m.recipient: m for m in messages}
    assert COORDINATOR in by_recipient and OTHER_COORDINATOR not in by_recipient
    assert all(m.recipient in coordinators for m in messages)
    body = by_recipient[COORDINATOR].body
    assert "du 30/11/2026 au 06/12/2026 pour la CPTS du Grand Arras" in body
    waiting = client.get("/api/v1/requests", headers=coordinator).json()["total"]  # the queue's open requests
    for line in (
        "- nouvelles demandes : 3",
        "- patients orientés vers un médecin : 1",
        "- demandes closes : 1",
        f"- en attente aujourd'hui : {waiting}",
        f"- dont en attente depuis plus de 14 jours : {waiting - 3}",
        "- rendez-vous réservés dans la semaine : 2",
    ):
        assert line in body
    assert "/espace/demandes" in body
    leaks = [n for n in _personal_data(db) for m in messages if n in m.body or n in (m.subject or "")]
    assert leaks == []

    # The same week again (later that day, two days later): nothing more.
    assert digest.run(write_session, settings, MONDAY + timedelta(hours=3)) == 0
    assert digest.run(write_session, settings, MONDAY + timedelta(days=2)) == 0
    assert len(_digests(db)) == len(messages)
    # The next week has its own.
    assert digest.run(write_session, settings, MONDAY + timedelta(days=7)) == 2
    db.rollback()
    weeks = db.scalars(select(WeeklyDigest.week_start).order_by(WeeklyDigest.id)).all()
    assert [w.isoformat() for w in weeks] == ["2026-11-30", "2026-11-30", "2026-12-07", "2026-12-07"]


def test_two_workers_that_both_found_the_week_unsent_send_it_once(
    db, write_session, engine, week, settings, monkeypatch
):
    monkeypatch.setattr(digest, "_already_sent", lambda *_: False)  # both looked before either committed
    assert digest.run(write_session, settings, MONDAY) == 2
    with sessionmaker(bind=for_writing(engine))() as other_worker:
        assert digest.run(other_worker, settings, MONDAY) == 0  # the unique key let the first one through only
    assert len({m.recipient for m in _digests(db)}) == len(_digests(db))


def test_the_worker_delivers_it_weekly_to_a_real_smtp_server(db, engine, week, settings):
    server = SmtpServer()
    server.start()
    try:
        configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": server.port})
        clock = [MONDAY]
        sessions = sessionmaker(bind=for_writing(engine))
        worker = OutboxWorker(configured, sessions, {"email": SmtpSender(configured)}, clock=lambda: clock[0])
        assert worker.digest_if_due() == 2
        assert worker.run_once() >= 2
        received = {str(m["To"]): m for m in server.messages}
        email = received[COORDINATOR]
        assert email["Subject"] == "Orientation : le point de la semaine de la coordination"
        assert "- nouvelles demandes : 3" in email.get_content()
        # An hour later the same worker does not even look; restarted, a new worker finds it sent.
        clock[0] = MONDAY + timedelta(hours=1)
        assert worker.digest_if_due() == 0
        restarted = OutboxWorker(configured, sessions, {"email": SmtpSender(configured)}, clock=lambda: clock[0])
        assert restarted.digest_if_due() == 0
        assert restarted.run_once() == 0
        # Switched off by WEEKLY_DIGEST=false: nothing, even a week later.
        off = OutboxWorker(configured.model_copy(update={"weekly_digest": False}), sessions, {}, clock=lambda: clock[0])
        clock[0] = MONDAY + timedelta(days=7)
        assert off.digest_if_due() == 0
    finally:
        server.stop()

"""The outbox's delivery guarantee, against a real SMTP server on loopback: at least once,
"sent" recorded the moment the server accepts, and a copy after a worker's death carrying the
same Message-ID. The clock is injected: the lease runs out without waiting."""

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import for_writing
from app.notifications.models import MessageStatus, OutboxMessage
from app.notifications.outbox import LEASE, OutboxWorker, enqueue
from app.notifications.senders import SmtpSender
from tests.fakes.smtp import SmtpServer, _Collector

# The worker's clock: a day after this module is loaded, so that every message a test writes
# (due at once, on the real clock) is due at T0 however long the run before it took.
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
AFTER_THE_LEASE = T0 + LEASE + timedelta(seconds=1)


class _Server(_Collector):
    """Collects messages, runs `on_data` when a message arrives (before answering 250) and
    answers QUIT with `quit_reply`, after noting the message's recorded status."""

    def __init__(self, status_of) -> None:
        super().__init__()
        self.status_of = status_of
        self.on_data = None
        self.quit_reply = "221 Bye"
        self.status_at_quit: list[str] = []
        self.data_received = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if self.on_data is not None:
            self.on_data()
        self.data_received.set()
        return reply

    async def handle_QUIT(self, server, session, envelope):
        self.status_at_quit.append(self.status_of())
        return self.quit_reply


@pytest.fixture
def message_id(db: Session) -> int:
    message = enqueue(
        db, kind="outcome", channel="email", recipient="anne@example.fr", subject="Votre demande", body="Bonjour"
    )
    db.commit()
    return message.id


@pytest.fixture
def smtp(engine, message_id):
    def status_of() -> str:
        with Session(engine) as session:
            return session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id))

    server = SmtpServer()
    server.collector = _Server(status_of)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker(settings, engine, smtp) -> OutboxWorker:
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port})
    return OutboxWorker(configured, sessionmaker(bind=for_writing(engine)), {"email": SmtpSender(configured)})


def stored(db: Session, message_id: int) -> OutboxMessage:
    db.rollback()  # a fresh snapshot, not the one of an earlier read
    return db.get(OutboxMessage, message_id)


def message_ids(smtp: SmtpServer) -> list[str]:
    return [email["Message-ID"] for email in smtp.messages]


def test_the_normal_path_delivers_once_and_records_sent_before_hanging_up(db, smtp, worker, message_id):
    assert worker.run_once(now=T0) == 1
    assert worker.run_once(now=AFTER_THE_LEASE) == 0
    assert worker.run_once(now=T0 + timedelta(days=1)) == 0
    message = stored(db, message_id)
    assert message_ids(smtp) == [f"<{message.key}@127.0.0.1>"]
    assert (message.status, message.attempts, message.sent_at) == ("sent", 1, T0)
    # Recorded before the QUIT: nothing but the commit between the server's 250 and "sent".
    assert smtp.collector.status_at_quit == ["sent"]


def test_a_refused_quit_after_acceptance_does_not_send_a_second_copy(db, smtp, worker, message_id):
    smtp.collector.quit_reply = "421 Service not available, closing channel"
    assert worker.run_once(now=T0) == 1
    assert worker.run_once(now=T0 + timedelta(hours=2)) == 0
    assert len(smtp.messages) == 1
    assert stored(db, message_id).status == "sent"


def _fail_the_sent_record(engine, error: BaseException):
    """Makes the transaction recording "sent" fail, once, as a database that went away would."""

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE outbox_messages") and "sent_at" in statement:
            event.remove(engine, "before_cursor_execute", before)
            raise error

    event.listen(engine, "before_cursor_execute", before)


def test_when_recording_sent_fails_the_email_comes_again_once_after_the_lease(db, engine, smtp, worker, message_id):
    _fail_the_sent_record(engine, OperationalError("UPDATE outbox_messages", {}, Exception("server closed")))
    assert worker.run_once(now=T0) == 0
    assert len(smtp.messages) == 1
    assert stored(db, message_id).status == "sending"  # the server has it; we could not say so
    assert worker.run_once(now=T0 + LEASE - timedelta(seconds=1)) == 0  # leased: not before
    assert worker.run_once(now=AFTER_THE_LEASE) == 1
    assert worker.run_once(now=T0 + timedelta(days=1)) == 0
    message = stored(db, message_id)
    assert message_ids(smtp) == [f"<{message.key}@127.0.0.1>"] * 2  # the receiver can drop the copy
    assert (message.status, message.attempts, message.sent_at) == ("sent", 2, AFTER_THE_LEASE)


class WorkerKilled(BaseException):
    """What unwinds a worker stopped by a signal: nothing after it runs."""


def test_a_worker_dying_between_acceptance_and_record_costs_one_copy_after_the_lease(
    db, engine, smtp, worker, settings, message_id
):
    _fail_the_sent_record(engine, WorkerKilled())
    with pytest.raises(WorkerKilled):
        worker.run_once(now=T0)
    assert stored(db, message_id).status == "sending"
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port})
    next_worker = OutboxWorker(configured, sessionmaker(bind=for_writing(engine)), {"email": SmtpSender(configured)})
    assert next_worker.run_once(now=T0 + timedelta(minutes=1)) == 0
    assert next_worker.run_once(now=AFTER_THE_LEASE) == 1
    assert next_worker.run_once(now=T0 + timedelta(days=1)) == 0
    assert len(set(message_ids(smtp))) == 1 and len(smtp.messages) == 2
    assert stored(db, message_id).status == "sent"


_WORKER_PROCESS = """
import sys
from datetime import datetime
from sqlalchemy.orm import sessionmaker
from app.core.database import build_engine, for_writing
from app.core.settings import Settings
from app.notifications.outbox import OutboxWorker
url, port, now = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
settings = Settings(
    database_url=url, secret_key="test", smtp_host="127.0.0.1", smtp_port=port, public_url="http://127.0.0.1:8000"
)  # as the tests' settings: the same Message-ID domain
OutboxWorker(settings, sessionmaker(bind=for_writing(build_engine(url)))).run_once(now=now)
"""


def test_a_worker_process_killed_after_the_server_took_the_email(db, engine, database_url, smtp, worker, message_id):
    """A real process, killed while its "sent" transaction waits for a lock the test took
    when the e-mail arrived (before the server's 250): the worker never recorded it."""
    held = []

    def hold_the_lock() -> None:
        lock = for_writing(engine).connect()
        held.append(lock)
        lock.begin()  # SQLite: BEGIN IMMEDIATE, the database's write lock
        if engine.dialect.name == "postgresql":
            lock.execute(select(OutboxMessage.id).where(OutboxMessage.id == message_id).with_for_update())

    smtp.collector.on_data = hold_the_lock
    process = subprocess.Popen(
        [sys.executable, "-c", _WORKER_PROCESS, database_url, str(smtp.port), T0.isoformat()],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert smtp.collector.data_received.wait(timeout=60)
        process.kill()
        process.wait(timeout=60)
    finally:
        smtp.collector.on_data = None
        for lock in held:
            lock.rollback()
            lock.close()
    assert len(smtp.messages) == 1
    assert stored(db, message_id).status == MessageStatus.SENDING.value
    assert worker.run_once(now=T0 + timedelta(minutes=1)) == 0
    assert worker.run_once(now=AFTER_THE_LEASE) == 1
    assert worker.run_once(now=T0 + timedelta(days=1)) == 0
    assert len(smtp.messages) == 2 and len(set(message_ids(smtp))) == 1

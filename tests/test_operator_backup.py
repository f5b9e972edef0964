"""`orientation backup` while the service writes, `orientation restore` into an empty database,
and everything found there: SQLite always; PostgreSQL when the tests run on it (pg_dump and
pg_restore present), restored into a scratch database the test creates and drops."""

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app.core import migrations
from app.core.database import build_engine, for_writing
from app.notifications.models import OutboxMessage
from app.notifications.outbox import enqueue
from tests.factories import submit
from tests.helpers.cli import ORIENTATION, command_env
from tests.helpers.database import take_snapshot
from tests.helpers.operator import scratch_postgres


def orientation(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = command_env(ORIENTATION_DATABASE_URL=database_url)
    return subprocess.run([ORIENTATION, *args], env=env, capture_output=True, text=True, timeout=300, check=False)


class Writer(threading.Thread):
    """Commits one outbox message after another, as the service would, until stopped."""

    def __init__(self, engine) -> None:
        super().__init__(daemon=True)
        self.sessions = sessionmaker(bind=for_writing(engine))
        self.committed = 0
        self.halt = threading.Event()
        self.started_writing = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            with self.sessions() as session:
                enqueue(session, kind="outcome", channel="email", recipient="w@example.fr", subject="s", body="b")
                session.commit()
            self.committed += 1
            self.started_writing.set()


@pytest.fixture
def target(database_url, tmp_path):
    """An empty database of the same kind as the tests' own."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'orientation.sqlite3'}"
        return
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore absent")
    with scratch_postgres(database_url, "restore") as url:
        yield url


def test_backup_while_writing_then_restore_into_an_empty_database_finds_everything(
    client, demo_territories, coordinator, engine, database_url, target, tmp_path
):
    for n in range(5):
        assert submit(client, family_name=f"Sauvegarde{n}").status_code == 201
    writer = Writer(engine)
    writer.start()
    assert writer.started_writing.wait(30)
    try:
        before = writer.committed
        made = orientation(database_url, "backup", str(tmp_path / "copy.backup"))
        after = writer.committed
    finally:
        writer.halt.set()
        writer.join(30)
    assert made.returncode == 0, made.stderr
    assert after > before  # the service kept writing while the copy was made

    restored = orientation(target, "restore", str(tmp_path / "copy.backup"))
    assert restored.returncode == 0, restored.stderr
    assert migrations.current_revision(target) == migrations.head_revision()

    copy_engine = build_engine(target)
    try:
        original, copy = take_snapshot(engine), take_snapshot(copy_engine)
        with copy_engine.connect() as connection:
            ids = list(connection.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
            requests = connection.scalar(select(func.count()).select_from(OutboxMessage))
    finally:
        copy_engine.dispose()
    for table, rows in original.rows.items():
        if table != "outbox_messages":
            assert copy.rows[table] == rows, table  # every row of every other table, as it was
    assert len(copy.rows["territories"]) == 2 and len(copy.rows["patient_requests"]) == 5
    assert {r["family_name"] for r in copy.rows["patient_requests"]} == {f"Sauvegarde{n}" for n in range(5)}
    # The outbox as of one moment during the backup: the receipts, then the writer's first k
    # messages, each whole (a prefix of the original's rows: nothing torn, nothing missing before it).
    written = original.rows["outbox_messages"]
    assert copy.rows["outbox_messages"] == written[: len(ids)]
    receipts = len(written) - writer.committed
    assert receipts + before <= len(ids) <= receipts + after
    assert requests == len(ids)


def test_restore_refuses_a_database_that_holds_tables_unless_forced(client, demo_territories, database_url, tmp_path):
    if database_url.startswith("postgresql") and not shutil.which("pg_dump"):
        pytest.skip("pg_dump absent")
    assert orientation(database_url, "backup", str(tmp_path / "copy.backup")).returncode == 0
    again = orientation(database_url, "backup", str(tmp_path / "copy.backup"))
    assert again.returncode == 1 and "existe déjà" in again.stderr  # a backup never overwrites one

    if database_url.startswith("postgresql"):
        with scratch_postgres(database_url, "force") as other:
            _refused_then_forced(other, tmp_path)
    else:
        _refused_then_forced(f"sqlite:///{tmp_path / 'other.sqlite3'}", tmp_path)


def _refused_then_forced(other: str, tmp_path: Path) -> None:
    migrations.upgrade("head", database_url=other)  # a database in use: tables, no territory
    refused = orientation(other, "restore", str(tmp_path / "copy.backup"))
    assert refused.returncode == 1 and "contient déjà des tables" in refused.stderr
    forced = orientation(other, "restore", "--force", str(tmp_path / "copy.backup"))
    assert forced.returncode == 0, forced.stderr
    engine = build_engine(other)
    try:
        assert len(take_snapshot(engine).rows["territories"]) == 2
    finally:
        engine.dispose()


def test_restore_refuses_a_file_that_is_no_backup(database_url, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("pas une sauvegarde")
    refused = orientation(f"sqlite:///{tmp_path / 'empty.sqlite3'}", "restore", str(junk))
    assert refused.returncode == 1 and "n'est pas une sauvegarde SQLite" in refused.stderr


def test_the_postgresql_invocation_is_printed_without_the_password(tmp_path):
    url = "postgresql+psycopg://orientation:s3cret@db.internal:5433/orientation"
    printed = orientation(url, "backup", "--print", str(tmp_path / "orientation.dump"))
    assert printed.returncode == 0, printed.stderr
    line = printed.stdout.strip()
    assert line.startswith("PGPASSWORD=… ")
    assert "pg_dump --format=custom --no-owner --no-privileges" in line
    assert f"--file={tmp_path / 'orientation.dump'}" in line
    assert line.endswith("postgresql://orientation@db.internal:5433/orientation")
    assert "s3cret" not in line
    assert os.path.basename(line.split()[1]) == "pg_dump"

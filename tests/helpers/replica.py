"""A real streaming replica for the tests: a scratch primary cluster and a hot standby made from
it with Debian's PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup -R), in temporary
directories, on free loopback ports. The machine's own PostgreSQL (5432) is never touched.

PostgreSQL refuses to run as root: under root the clusters belong to the `postgres` system
user (runuser), whose temporary directory is made for it; otherwise to whoever runs the tests."""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from app.core.database import build_engine
from tests.helpers.operator import free_port

PG_BIN = Path(os.environ.get("ORIENTATION_PG_BIN", "/usr/lib/postgresql/15/bin"))
TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
SLOT = "orientation_test_replica"


def binaries_missing() -> list[str]:
    return [tool for tool in TOOLS if not (PG_BIN / tool).is_file()]


def _as_owner(*command: str) -> list[str]:
    if os.geteuid() != 0:
        return list(command)
    return ["runuser", "-u", "postgres", "--", *command]


def _run(*command: str) -> None:
    done = subprocess.run(_as_owner(*command), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


def _wait(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # a server's progress, not the app's clock


@dataclass
class Replication:
    """The two clusters' SQLAlchemy URLs (user postgres, database orientation)."""

    primary_url: str
    replica_url: str

    def _scalar(self, url: str, sql: str):
        engine = build_engine(url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def on_replica(self, sql: str):
        return self._scalar(self.replica_url, sql)

    def on_primary(self, sql: str):
        return self._scalar(self.primary_url, sql)

    def caught_up(self) -> None:
        """Waits until the replica has replayed everything the primary had committed so far (each
        commit is flushed before it returns: the flush position covers them all)."""
        target = self.on_primary("SELECT pg_current_wal_flush_lsn()::text")
        _wait(
            lambda: self.on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
            "the replica to replay the primary's WAL",
        )

    def pause_replay(self) -> None:
        """The replica keeps receiving WAL but applies none of it: it lags from now on."""
        self.on_replica("SELECT pg_wal_replay_pause()")
        _wait(lambda: self.on_replica("SELECT pg_get_wal_replay_pause_state()") == "paused", "replay to pause")

    def resume_replay(self) -> None:
        self.on_replica("SELECT pg_wal_replay_resume()")


def _configure(data: Path, port: int, sockets: Path) -> None:
    with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            "\n# tests/helpers/replica.py\n"
            f"port = {port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sockets}'\n"
            "wal_level = replica\n"
            "max_wal_senders = 4\n"
            "max_replication_slots = 4\n"
            "hot_standby = on\n"
            "fsync = off\n"
            "full_page_writes = off\n"
            "shared_buffers = 16MB\n"
            "max_connections = 40\n"
        )


@contextmanager
def streaming_replica() -> Iterator[Replication]:
    """A primary and its streaming hot standby, torn down (stopped, files removed) afterwards."""
    root = Path(tempfile.mkdtemp(prefix="orientation-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    root.chmod(0o700)
    primary, replica = root / "primary", root / "replica"
    primary_port, replica_port = free_port(), free_port()
    started: list[Path] = []
    try:
        _run(str(PG_BIN / "initdb"), "-D", str(primary), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        _configure(primary, primary_port, root)
        with (primary / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        _run(str(PG_BIN / "pg_ctl"), "-D", str(primary), "-l", str(root / "primary.log"), "-w", "start")
        started.append(primary)
        base = f"postgresql+psycopg://postgres@127.0.0.1:{primary_port}/postgres"
        engine = build_engine(base)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("CREATE DATABASE orientation"))
            connection.execute(text(f"SELECT pg_create_physical_replication_slot('{SLOT}')"))
        engine.dispose()
        # -R writes standby.signal and primary_conninfo; -S streams through the slot, so the
        # primary keeps the WAL the standby has not received yet.
        _run(
            str(PG_BIN / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres"),
            *("-D", str(replica), "-R", "-S", SLOT, "-X", "stream", "-c", "fast", "--no-sync"),
        )
        _configure(replica, replica_port, root)  # the last `port` line wins
        _run(str(PG_BIN / "pg_ctl"), "-D", str(replica), "-l", str(root / "replica.log"), "-w", "start")
        started.append(replica)
        replication = Replication(
            primary_url=f"postgresql+psycopg://postgres@127.0.0.1:{primary_port}/orientation",
            replica_url=f"postgresql+psycopg://postgres@127.0.0.1:{replica_port}/orientation",
        )
        _wait(lambda: replication.on_replica("SELECT pg_is_in_recovery()") is True, "the replica in recovery")
        _wait(
            lambda: replication.on_replica("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'"),
            "the replica to stream",
        )
        yield replication
    finally:
        for data in reversed(started):
            subprocess.run(
                _as_owner(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)

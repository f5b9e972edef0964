"""`orientation backup DEST` and `orientation restore SRC` (docs/deploy.md, "Backups").

- SQLite: a consistent copy taken while the service keeps serving, with SQLite's online
  backup API (sqlite3's Connection.backup), in one step: the copy is the database as of one
  moment, whatever is written meanwhile (in WAL mode writers do not wait for it), then checked
  (PRAGMA integrity_check) and renamed into place. Restoring copies it back the same way.
- PostgreSQL: the documented invocation of Debian's pg_dump, `pg_dump --format=custom`
  (one consistent snapshot too; compressed; pg_restore reads it), the password given through
  PGPASSWORD, never on the command line. Restoring runs pg_restore.

A restore refuses a database that holds tables unless --force, and brings the migrations to
the head afterwards (a backup of an older version is upgraded)."""

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from app.core import migrations
from app.core.database import build_engine

SQLITE_HEADER = b"SQLite format 3\x00"
PG_CUSTOM_HEADER = b"PGDMP"


class BackupError(Exception):
    """What went wrong, in French, for the operator."""


@dataclass(frozen=True)
class Command:
    """A pg_dump/pg_restore invocation: its arguments, and the environment it needs."""

    argv: list[str]
    password: str | None

    def shown(self) -> str:
        prefix = "PGPASSWORD=… " if self.password else ""
        return prefix + " ".join(self.argv)

    def run(self) -> None:
        env = {**os.environ, **({"PGPASSWORD": self.password} if self.password else {})}
        done = subprocess.run(self.argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            # pg_dump's messages name tables and settings, not the rows' values.
            raise BackupError(f"{Path(self.argv[0]).name} a échoué ({done.returncode}) : {done.stderr.strip()[-2000:]}")


def _url(database_url: str) -> URL:
    return make_url(database_url)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("une base SQLite en mémoire ne se sauvegarde pas")
    return Path(url.database)


def pg_tool(name: str) -> str:
    """Debian's pg_dump / pg_restore: the wrapper on PATH (postgresql-client-common picks the
    newest client installed), else the newest /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if versions:
        return str(versions[-1])
    raise BackupError(f"{name} introuvable : apt-get install postgresql-client")


def _libpq(url: URL) -> tuple[str, str | None]:
    """SQLAlchemy's URL → libpq's (postgresql://user@host:port/db) and the password apart."""
    plain = URL.create(  # URL.set(password=None) would keep the password
        "postgresql", username=url.username, host=url.host, port=url.port, database=url.database, query=url.query
    )
    return plain.render_as_string(hide_password=False), url.password


def pg_dump_command(database_url: str, dest: Path) -> Command:
    dsn, password = _libpq(_url(database_url))
    argv = [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={dest}", dsn]
    return Command(argv, password)


def pg_restore_command(database_url: str, src: Path, clean: bool) -> Command:
    dsn, password = _libpq(_url(database_url))
    argv = [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if clean:
        argv += ["--clean", "--if-exists"]
    return Command([*argv, f"--dbname={dsn}", str(src)], password)


def _check_sqlite_copy(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
    connection.close()
    if verdict != "ok":
        raise BackupError(f"la copie {path} est endommagée : {verdict}")


def backup(database_url: str, dest: Path) -> str:
    """Writes the backup to dest (which must not exist yet); what was done, for the operator."""
    url = _url(database_url)
    if dest.exists():
        raise BackupError(f"{dest} existe déjà : choisissez un nouveau nom (une sauvegarde n'en écrase aucune)")
    if url.get_backend_name() == "postgresql":
        command = pg_dump_command(database_url, dest)
        command.run()
        return f"sauvegarde PostgreSQL écrite dans {dest} ({command.shown()})"
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"base {url.get_backend_name()} : seules SQLite et PostgreSQL sont prises en charge")
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"{source} n'existe pas")
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    origin = sqlite3.connect(source)
    copy = sqlite3.connect(partial)
    try:
        origin.backup(copy)  # every page in one step: one moment's database, never restarted by a writer
    finally:
        copy.close()
        origin.close()
    _check_sqlite_copy(partial)
    partial.rename(dest)
    return f"sauvegarde SQLite écrite dans {dest} ({dest.stat().st_size} octets)"


def _has_tables(database_url: str) -> bool:
    url = _url(database_url)
    if url.get_backend_name() == "sqlite" and not _sqlite_path(url).exists():
        return False
    engine = build_engine(database_url)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def restore(database_url: str, src: Path, force: bool = False) -> str:
    """Restores src into the database of database_url, then migrates it to the head."""
    url = _url(database_url)
    with src.open("rb") as file:
        header = file.read(16)
    backend = url.get_backend_name()
    if backend == "sqlite" and not header.startswith(SQLITE_HEADER):
        raise BackupError(f"{src} n'est pas une sauvegarde SQLite (orientation backup d'une base SQLite)")
    if backend == "postgresql" and not header.startswith(PG_CUSTOM_HEADER):
        raise BackupError(f"{src} n'est pas une archive pg_dump --format=custom")
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"base {backend} : seules SQLite et PostgreSQL sont prises en charge")
    non_empty = _has_tables(database_url)
    if non_empty and not force:
        raise BackupError(
            "la base cible contient déjà des tables : restaurez dans une base vide, ou --force pour la remplacer"
        )
    if backend == "postgresql":
        pg_restore_command(database_url, src, clean=non_empty).run()
    else:
        _check_sqlite_copy(src)
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        origin = sqlite3.connect(src)
        into = sqlite3.connect(target)
        try:
            origin.backup(into)  # replaces every page of the target
        finally:
            into.close()
            origin.close()
    migrations.upgrade("head", database_url=database_url)
    return f"{src} restaurée ; base à la révision {migrations.current_revision(database_url)}"

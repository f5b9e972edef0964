"""Alembic, driven from the application: `orientation db upgrade`, the tests, the image."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config

from app.core.settings import get_settings

# The migrations live at the top of the repository, beside the package (DEVELOPERS.md).
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url or get_settings().database_url)
    return config


def upgrade(revision: str = "head", database_url: str | None = None) -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(revision: str, database_url: str | None = None) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from app.core.database import build_engine

    engine = build_engine(database_url or get_settings().database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@cache
def code_head() -> str | None:
    """The head revision of the code running (read once: the scripts do not change under a
    running process). /readyz and /metrics compare the database's revision to it."""
    return head_revision()

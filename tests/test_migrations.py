"""The schema is made by the migrations only, and they go down and up again cleanly."""

from sqlalchemy import inspect

from app.core import migrations
from app.core.database import Base


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_round_trip(database_url, engine):
    assert migrations.current_revision(database_url) == migrations.head_revision()
    migrations.downgrade("base", database_url=database_url)
    assert tables(engine) == set()
    assert migrations.current_revision(database_url) is None
    migrations.upgrade("head", database_url=database_url)
    assert tables(engine) == set(Base.metadata.tables)
    assert migrations.current_revision(database_url) == migrations.head_revision()


def test_migrations_match_the_models(database_url, engine):
    """A model changed without its migration would be caught here (autogenerate finds nothing)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []

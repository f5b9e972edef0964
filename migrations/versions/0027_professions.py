"""a practitioner's profession (RPPS "code profession"): 10 médecin for every doctor already
registered; nurses, midwives, physiotherapists… publish unscheduled-care slots for the CPTS,
never served to the SAS, and have no medical specialty (stored empty)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 01:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFESSIONS = "'10', '21', '40', '50', '60', '70'"
# One ALTER TABLE … ADD COLUMN with its constraints, which SQLite and PostgreSQL both take: no
# copy of the table (SQLite's batch mode would drop it, and its foreign keys would cascade).
# Both checks are the new column's, so that SQLite can drop it again on a downgrade.
ADD_COLUMN = (
    "ALTER TABLE doctors ADD COLUMN profession VARCHAR(2) DEFAULT '10' NOT NULL"
    f" CONSTRAINT ck_doctors_known_profession CHECK (profession IN ({PROFESSIONS}))"
    " CONSTRAINT ck_doctors_specialty_of_doctors CHECK (profession = '10' OR specialty = '')"
)
# The doctor columns the SAS feed depends on (0026): a doctor who becomes a nurse leaves the feed.
OLD_COLUMNS = "rpps, family_name, given_name, specialty, phone, active"
NEW_COLUMNS = OLD_COLUMNS + ", profession"


def _doctor_trigger(columns: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER sas_feed_doctors ON doctors")
        op.execute(
            f"CREATE TRIGGER sas_feed_doctors BEFORE UPDATE OF {columns} ON doctors"
            " FOR EACH ROW EXECUTE FUNCTION sas_feed_bump()"
        )
    else:
        op.execute("DROP TRIGGER sas_feed_doctor_update")
        op.execute(
            f"CREATE TRIGGER sas_feed_doctor_update AFTER UPDATE OF {columns} ON doctors BEGIN"
            " UPDATE doctors SET sas_feed_version = sas_feed_version + 1 WHERE id = NEW.id; END"
        )


def upgrade() -> None:
    op.execute(ADD_COLUMN)
    _doctor_trigger(NEW_COLUMNS)


def downgrade() -> None:
    # Without the column, a nurse would read as a doctor: deactivated (out of the SAS feed, the
    # ranking and the searches), given the general practice every doctor had by default.
    op.execute("UPDATE doctors SET active = false, specialty = 'SM54', profession = '10' WHERE profession <> '10'")
    _doctor_trigger(OLD_COLUMNS)
    op.execute("ALTER TABLE doctors DROP COLUMN profession")

"""a version per doctor of what the SAS feed shows of it, bumped by triggers in the writing
transaction: the feed's per-practitioner fragments (app.fhir.feed) are rebuilt when it moves

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 19:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a Practitioner, PractitionerRole or Slot of the feed is made of; a change to any other
# column (capacity, languages…) leaves the feed as it was, and takes no lock for it.
DOCTOR_COLUMNS = "rpps, family_name, given_name, specialty, phone, active"
LOCATION_COLUMNS = "address, postcode, city, phone, doctor_id"
TERRITORY_COLUMNS = "name, finess, phone"
BUMP = "UPDATE doctors SET sas_feed_version = sas_feed_version + 1 WHERE id = {row}.doctor_id"
BUMP_TERRITORY = (
    "UPDATE doctors SET sas_feed_version = sas_feed_version + 1"
    " WHERE id IN (SELECT doctor_id FROM snp_slots WHERE territory_id = NEW.id)"
)


def _postgresql() -> None:
    op.execute(f"""
        CREATE FUNCTION sas_feed_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'doctors' THEN
                NEW.sas_feed_version := OLD.sas_feed_version + 1;
                RETURN NEW;
            ELSIF TG_TABLE_NAME = 'territories' THEN
                {BUMP_TERRITORY};
                RETURN NULL;
            END IF;
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                {BUMP.format(row="OLD")};
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                IF TG_OP = 'INSERT' OR NEW.doctor_id IS DISTINCT FROM OLD.doctor_id THEN
                    {BUMP.format(row="NEW")};
                END IF;
            END IF;
            RETURN NULL;
        END $$
    """)
    op.execute(
        "CREATE TRIGGER sas_feed_slots AFTER INSERT OR UPDATE OR DELETE ON snp_slots"
        " FOR EACH ROW EXECUTE FUNCTION sas_feed_bump()"
    )
    op.execute(
        f"CREATE TRIGGER sas_feed_locations AFTER UPDATE OF {LOCATION_COLUMNS} OR DELETE ON practice_locations"
        " FOR EACH ROW EXECUTE FUNCTION sas_feed_bump()"
    )
    op.execute(
        f"CREATE TRIGGER sas_feed_doctors BEFORE UPDATE OF {DOCTOR_COLUMNS} ON doctors"
        " FOR EACH ROW EXECUTE FUNCTION sas_feed_bump()"
    )
    op.execute(
        f"CREATE TRIGGER sas_feed_territories AFTER UPDATE OF {TERRITORY_COLUMNS} ON territories"
        " FOR EACH ROW EXECUTE FUNCTION sas_feed_bump()"
    )


def _sqlite() -> None:
    statements = {
        "sas_feed_slot_insert": f"AFTER INSERT ON snp_slots BEGIN {BUMP.format(row='NEW')}; END",
        "sas_feed_slot_update": (
            f"AFTER UPDATE ON snp_slots BEGIN {BUMP.format(row='OLD')}; {BUMP.format(row='NEW')}"
            " AND NEW.doctor_id IS NOT OLD.doctor_id; END"
        ),
        "sas_feed_slot_delete": f"AFTER DELETE ON snp_slots BEGIN {BUMP.format(row='OLD')}; END",
        "sas_feed_location_update": (
            f"AFTER UPDATE OF {LOCATION_COLUMNS} ON practice_locations BEGIN {BUMP.format(row='OLD')};"
            f" {BUMP.format(row='NEW')} AND NEW.doctor_id IS NOT OLD.doctor_id; END"
        ),
        "sas_feed_location_delete": f"AFTER DELETE ON practice_locations BEGIN {BUMP.format(row='OLD')}; END",
        # SQLite's triggers do not recurse by default, and the UPDATE below names no column of the list.
        "sas_feed_doctor_update": (
            f"AFTER UPDATE OF {DOCTOR_COLUMNS} ON doctors BEGIN"
            " UPDATE doctors SET sas_feed_version = sas_feed_version + 1 WHERE id = NEW.id; END"
        ),
        "sas_feed_territory_update": f"AFTER UPDATE OF {TERRITORY_COLUMNS} ON territories BEGIN {BUMP_TERRITORY}; END",
    }
    for name, body in statements.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


SQLITE_TRIGGERS = [
    "sas_feed_slot_insert",
    "sas_feed_slot_update",
    "sas_feed_slot_delete",
    "sas_feed_location_update",
    "sas_feed_location_delete",
    "sas_feed_doctor_update",
    "sas_feed_territory_update",
]


def upgrade() -> None:
    with op.batch_alter_table("doctors") as batch:
        batch.add_column(sa.Column("sas_feed_version", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in [
            ("sas_feed_slots", "snp_slots"),
            ("sas_feed_locations", "practice_locations"),
            ("sas_feed_doctors", "doctors"),
            ("sas_feed_territories", "territories"),
        ]:
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        op.execute("DROP FUNCTION sas_feed_bump()")
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
    with op.batch_alter_table("doctors") as batch:
        batch.drop_column("sas_feed_version")

"""a version per doctor of what the SAS feed shows of it, bumped by triggers in the writing
transaction: the feed's per-practitioner fragments (app.fhir.feed) are rebuilt when it moves

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 19:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a Practitioner, PractitionerRole or Slot of the feed is made of; a change to any other
# column (capacity, languages…) leaves the feed as it was, and takes no lock for it.
DOCTOR_COLUMNS = "rpps, family_name, given_name, specialty, phone, active"
LOCATION_COLUMNS = "address, postcode, city, phone, doctor_id"
TERRITORY_COLUMNS = "name, finess, phone"
CENTRE_COLUMNS = "address, postcode, city, phone"  # a PractitionerRole "{doctor}-c{centre}"'s place
# A slot is served under its doctor, or under the doctor named to work it when it is a centre's
# (worked_by_doctor_id; the two never both set): both are bumped, whichever it is.
BUMP = "UPDATE doctors SET sas_feed_version = sas_feed_version + 1 WHERE id IN ({rows})"
SLOT_DOCTORS = "{row}.doctor_id, {row}.worked_by_doctor_id"
BUMP_OLD = BUMP.format(rows=SLOT_DOCTORS.format(row="OLD"))
BUMP_NEW = BUMP.format(rows=SLOT_DOCTORS.format(row="NEW"))
# On an update, the doctors before and after (a slot moved, or its worked_by_doctor_id changed).
BUMP_BOTH = BUMP.format(rows=SLOT_DOCTORS.format(row="OLD") + ", " + SLOT_DOCTORS.format(row="NEW"))
BUMP_LOCATION_OLD = BUMP.format(rows="OLD.doctor_id")
BUMP_LOCATION_BOTH = BUMP.format(rows="OLD.doctor_id, NEW.doctor_id")
BUMP_TERRITORY = BUMP.format(
    rows="SELECT coalesce(doctor_id, worked_by_doctor_id) FROM snp_slots WHERE territory_id = NEW.id"
)
BUMP_CENTRE = BUMP.format(rows="SELECT worked_by_doctor_id FROM snp_slots WHERE centre_id = {row}.id")


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
            ELSIF TG_TABLE_NAME = 'snp_centres' THEN
                {BUMP_CENTRE.format(row="OLD")};
                RETURN NULL;
            ELSIF TG_TABLE_NAME = 'practice_locations' THEN
                IF TG_OP = 'DELETE' THEN
                    {BUMP_LOCATION_OLD};
                ELSE
                    {BUMP_LOCATION_BOTH};
                END IF;
                RETURN NULL;
            END IF;
            -- snp_slots
            IF TG_OP = 'INSERT' THEN
                {BUMP_NEW};
            ELSIF TG_OP = 'DELETE' THEN
                {BUMP_OLD};
            ELSE
                {BUMP_BOTH};
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
    # A centre's address or phone, as the PractitionerRole of the doctors working its slots shows
    # it (a centre deleted deletes its slots: their own trigger bumps those doctors).
    op.execute(
        f"CREATE TRIGGER sas_feed_centres AFTER UPDATE OF {CENTRE_COLUMNS} ON snp_centres"
        " FOR EACH ROW EXECUTE FUNCTION sas_feed_bump()"
    )


def _sqlite() -> None:
    # Created after every table they name was last rebuilt (SQLite's batch mode, 0024/0025): a
    # later migration that rebuilds one of these tables must create its triggers again.
    statements = {
        "sas_feed_slot_insert": f"AFTER INSERT ON snp_slots BEGIN {BUMP_NEW}; END",
        "sas_feed_slot_update": f"AFTER UPDATE ON snp_slots BEGIN {BUMP_BOTH}; END",
        "sas_feed_slot_delete": f"AFTER DELETE ON snp_slots BEGIN {BUMP_OLD}; END",
        "sas_feed_location_update": (
            f"AFTER UPDATE OF {LOCATION_COLUMNS} ON practice_locations BEGIN {BUMP_LOCATION_BOTH}; END"
        ),
        "sas_feed_location_delete": f"AFTER DELETE ON practice_locations BEGIN {BUMP_LOCATION_OLD}; END",
        "sas_feed_centre_update": (
            f"AFTER UPDATE OF {CENTRE_COLUMNS} ON snp_centres BEGIN {BUMP_CENTRE.format(row='OLD')}; END"
        ),
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
    "sas_feed_centre_update",
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
            ("sas_feed_centres", "snp_centres"),
        ]:
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        op.execute("DROP FUNCTION sas_feed_bump()")
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
    with op.batch_alter_table("doctors") as batch:
        batch.drop_column("sas_feed_version")

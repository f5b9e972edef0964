"""unscheduled care: centres, patterns, slots, bookings, regulators; outbox ordering

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:40:39.867785
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snp_centres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_snp_centres_territory_id_territories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snp_centres")),
    )
    with op.batch_alter_table("snp_centres", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snp_centres_territory_id"), ["territory_id"], unique=False)

    op.create_table(
        "regulator_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_regulator_identifiers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regulator_identifiers")),
        sa.UniqueConstraint("system", "value", name="uq_regulator_identifiers_system_value"),
    )
    with op.batch_alter_table("regulator_identifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_regulator_identifiers_user_id"), ["user_id"], unique=False)

    op.create_table(
        "snp_patterns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("centre_id", sa.Integer(), nullable=True),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.Column("visibility", sa.Integer(), nullable=False),
        sa.Column("appointment_type", sa.String(length=7), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(doctor_id IS NULL) <> (centre_id IS NULL)", name=op.f("ck_snp_patterns_doctor_or_centre")),
        sa.CheckConstraint("slot_minutes BETWEEN 5 AND 240", name=op.f("ck_snp_patterns_slot_minutes_range")),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["snp_centres.id"], name=op.f("fk_snp_patterns_centre_id_snp_centres"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_snp_patterns_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_snp_patterns_doctor_id_doctors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["practice_locations.id"],
            name=op.f("fk_snp_patterns_location_id_practice_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_snp_patterns_territory_id_territories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snp_patterns")),
    )
    with op.batch_alter_table("snp_patterns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snp_patterns_doctor_id"), ["doctor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_snp_patterns_territory_id"), ["territory_id"], unique=False)

    op.create_table(
        "snp_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("centre_id", sa.Integer(), nullable=True),
        sa.Column("pattern_id", sa.Integer(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.Column("visibility", sa.Integer(), nullable=False),
        sa.Column("sas_visible", sa.Boolean(), nullable=False),
        sa.Column("appointment_type", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(doctor_id IS NULL) <> (centre_id IS NULL)", name=op.f("ck_snp_slots_doctor_or_centre")),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_snp_slots_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["snp_centres.id"], name=op.f("fk_snp_slots_centre_id_snp_centres"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_snp_slots_doctor_id_doctors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["practice_locations.id"],
            name=op.f("fk_snp_slots_location_id_practice_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pattern_id"], ["snp_patterns.id"], name=op.f("fk_snp_slots_pattern_id_snp_patterns"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territories.id"], name=op.f("fk_snp_slots_territory_id_territories"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snp_slots")),
    )
    with op.batch_alter_table("snp_slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snp_slots_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index("ix_snp_slots_doctor_start", ["doctor_id", "start_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_snp_slots_pattern_id"), ["pattern_id"], unique=False)
        batch_op.create_index(
            "ix_snp_slots_territory_status_start", ["territory_id", "status", "start_at"], unique=False
        )

    op.create_table(
        "snp_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=4), nullable=False),
        sa.Column("booked_by_user_id", sa.Integer(), nullable=True),
        sa.Column("sas_appointment_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booked_by_user_id"],
            ["users.id"],
            name=op.f("fk_snp_bookings_booked_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["snp_slots.id"], name=op.f("fk_snp_bookings_slot_id_snp_slots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_snp_bookings_territory_id_territories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snp_bookings")),
        sa.UniqueConstraint("sas_appointment_id", name="uq_snp_bookings_sas_appointment_id"),
    )
    with op.batch_alter_table("snp_bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snp_bookings_slot_id"), ["slot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_snp_bookings_territory_id"), ["territory_id"], unique=False)
        batch_op.create_index(
            "uq_snp_bookings_live_slot",
            ["slot_id"],
            unique=True,
            sqlite_where=sa.text("status <> 'cancelled'"),
            postgresql_where=sa.text("status <> 'cancelled'"),
        )

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("booking_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("after_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_messages_booking_id"), ["booking_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_messages_after_id_outbox_messages"),
            "outbox_messages",
            ["after_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_messages_booking_id_snp_bookings"),
            "snp_bookings",
            ["booking_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_messages_booking_id_snp_bookings"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_outbox_messages_after_id_outbox_messages"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_messages_booking_id"))
        batch_op.drop_column("after_id")
        batch_op.drop_column("booking_id")

    with op.batch_alter_table("snp_bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_snp_bookings_live_slot",
            sqlite_where=sa.text("status <> 'cancelled'"),
            postgresql_where=sa.text("status <> 'cancelled'"),
        )
        batch_op.drop_index(batch_op.f("ix_snp_bookings_territory_id"))
        batch_op.drop_index(batch_op.f("ix_snp_bookings_slot_id"))

    op.drop_table("snp_bookings")
    with op.batch_alter_table("snp_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_snp_slots_territory_status_start")
        batch_op.drop_index(batch_op.f("ix_snp_slots_pattern_id"))
        batch_op.drop_index("ix_snp_slots_doctor_start")
        batch_op.drop_index(batch_op.f("ix_snp_slots_centre_id"))

    op.drop_table("snp_slots")
    with op.batch_alter_table("snp_patterns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snp_patterns_territory_id"))
        batch_op.drop_index(batch_op.f("ix_snp_patterns_doctor_id"))

    op.drop_table("snp_patterns")
    with op.batch_alter_table("regulator_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regulator_identifiers_user_id"))

    op.drop_table("regulator_identifiers")
    with op.batch_alter_table("snp_centres", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snp_centres_territory_id"))

    op.drop_table("snp_centres")

"""patient requests (médecin traitant), their history, their sources; priority weights per CPTS

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 08:38:43.745989
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territories.id"], name=op.f("fk_sources_territory_id_territories"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("tag", name=op.f("uq_sources_tag")),
    )
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sources_territory_id"), ["territory_id"], unique=False)

    op.create_table(
        "patient_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("close_reason", sa.String(length=30), nullable=True),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("commune_name", sa.String(length=100), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("precision", sa.String(length=20), nullable=True),
        sa.Column("ald", sa.Boolean(), nullable=False),
        sa.Column("css_or_ame", sa.String(length=10), nullable=False),
        sa.Column("aged_70_or_more", sa.Boolean(), nullable=False),
        sa.Column("needs_home_visits", sa.Boolean(), nullable=False),
        sa.Column("no_doctor_reason", sa.String(length=20), nullable=False),
        sa.Column("preferred_channel", sa.String(length=10), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=20), nullable=False),
        sa.Column("submitted_by_user_id", sa.Integer(), nullable=True),
        sa.Column("identity_key", sa.String(length=64), nullable=False),
        sa.Column("follow_up_token_hash", sa.String(length=64), nullable=False),
        sa.Column("matched_doctor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["matched_doctor_id"],
            ["doctors.id"],
            name=op.f("fk_patient_requests_matched_doctor_id_doctors"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_patient_requests_source_id_sources"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_user_id"],
            ["users.id"],
            name=op.f("fk_patient_requests_submitted_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territories.id"], name=op.f("fk_patient_requests_territory_id_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_requests")),
        sa.UniqueConstraint("follow_up_token_hash", name=op.f("uq_patient_requests_follow_up_token_hash")),
    )
    with op.batch_alter_table("patient_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_requests_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_requests_insee_code"), ["insee_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_requests_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_patient_requests_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_patient_requests_submitted_by_user_id"), ["submitted_by_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_patient_requests_territory_id"), ["territory_id"], unique=False)
        batch_op.create_index(
            "uq_patient_requests_open_identity",
            ["territory_id", "identity_key"],
            unique=True,
            sqlite_where=sa.text("status IN ('received', 'proposed')"),
            postgresql_where=sa.text("status IN ('received', 'proposed')"),
        )

    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=True),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name=op.f("fk_request_events_doctor_id_doctors"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["patient_requests.id"],
            name=op.f("fk_request_events_request_id_patient_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_request_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_events_request_id"), ["request_id"], unique=False)

    with op.batch_alter_table("territories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight_ald", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("weight_age_70", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("weight_css", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("territories", schema=None) as batch_op:
        batch_op.drop_column("weight_css")
        batch_op.drop_column("weight_age_70")
        batch_op.drop_column("weight_ald")

    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_events_request_id"))

    op.drop_table("request_events")
    with op.batch_alter_table("patient_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_patient_requests_open_identity",
            sqlite_where=sa.text("status IN ('received', 'proposed')"),
            postgresql_where=sa.text("status IN ('received', 'proposed')"),
        )
        batch_op.drop_index(batch_op.f("ix_patient_requests_territory_id"))
        batch_op.drop_index(batch_op.f("ix_patient_requests_submitted_by_user_id"))
        batch_op.drop_index(batch_op.f("ix_patient_requests_status"))
        batch_op.drop_index(batch_op.f("ix_patient_requests_source_id"))
        batch_op.drop_index(batch_op.f("ix_patient_requests_insee_code"))
        batch_op.drop_index(batch_op.f("ix_patient_requests_created_at"))

    op.drop_table("patient_requests")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sources_territory_id"))

    op.drop_table("sources")

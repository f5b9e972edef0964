"""offers of a patient to doctors (signed answer links), and the automatic mode per CPTS

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("territories") as batch:
        batch.add_column(sa.Column("auto_offers_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "doctor_offers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id"), nullable=False),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("patient_requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("offered_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_doctor_offers_territory_id", "doctor_offers", ["territory_id"])
    op.create_index("ix_doctor_offers_request_id", "doctor_offers", ["request_id"])
    op.create_index("ix_doctor_offers_doctor_status", "doctor_offers", ["doctor_id", "status"])
    op.create_index("uq_doctor_offers_request_doctor", "doctor_offers", ["request_id", "doctor_id"], unique=True)
    op.create_index(
        "uq_doctor_offers_one_automatic_pending",
        "doctor_offers",
        ["request_id"],
        unique=True,
        sqlite_where=sa.text("automatic AND status = 'pending'"),
        postgresql_where=sa.text("automatic AND status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("doctor_offers")
    with op.batch_alter_table("territories") as batch:
        batch.drop_column("auto_offers_since")

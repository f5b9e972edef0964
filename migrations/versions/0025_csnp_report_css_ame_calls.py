"""FICHE 6's report and the phone line: passages without a booking (walk-ins), CSS and AME
asked as two questions, and the calls to the coordination's line

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snp_walk_ins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("centre_id", sa.Integer(), sa.ForeignKey("snp_centres.id", ondelete="CASCADE"), nullable=True),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id", ondelete="CASCADE"), nullable=True),
        sa.Column("age_band", sa.String(length=5), nullable=True),
        sa.Column("has_doctor", sa.String(length=7), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.CheckConstraint(
            "doctor_id IS NOT NULL OR centre_id IS NOT NULL", name=op.f("ck_snp_walk_ins_doctor_or_centre")
        ),
    )
    op.create_index("ix_snp_walk_ins_territory_seen", "snp_walk_ins", ["territory_id", "seen_at"])
    op.create_table(
        "phone_calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("caller", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=13), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("logged_by_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_phone_calls_territory_at", "phone_calls", ["territory_id", "called_at"])
    # CSS and AME, two answers. The one answer of earlier requests stays in css_or_ame: "no" was
    # "neither" (both no); "yes" stays "CSS or AME, unknown which" (both unknown, css_or_ame yes).
    with op.batch_alter_table("patient_requests") as batch:
        batch.add_column(sa.Column("css", sa.String(length=10), nullable=False, server_default="unknown"))
        batch.add_column(sa.Column("ame", sa.String(length=10), nullable=False, server_default="unknown"))
    op.execute("UPDATE patient_requests SET css = 'no', ame = 'no' WHERE css_or_ame = 'no'")


def downgrade() -> None:
    with op.batch_alter_table("patient_requests") as batch:
        batch.drop_column("ame")
        batch.drop_column("css")
    op.drop_index("ix_phone_calls_territory_at", table_name="phone_calls")
    op.drop_table("phone_calls")
    op.drop_index("ix_snp_walk_ins_territory_seen", table_name="snp_walk_ins")
    op.drop_table("snp_walk_ins")

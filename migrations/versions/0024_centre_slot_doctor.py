"""a centre's slot (and pattern) can name the doctor who works it: titular or replacement

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("snp_slots") as batch:
        batch.add_column(sa.Column("worked_by_doctor_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_snp_slots_worked_by_doctor_id_doctors"),
            "doctors",
            ["worked_by_doctor_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_check_constraint(
            op.f("ck_snp_slots_worked_by_at_centre"), "worked_by_doctor_id IS NULL OR centre_id IS NOT NULL"
        )
        batch.create_index(op.f("ix_snp_slots_worked_by_doctor_id"), ["worked_by_doctor_id"])
    with op.batch_alter_table("snp_patterns") as batch:
        batch.add_column(sa.Column("worked_by_doctor_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_snp_patterns_worked_by_doctor_id_doctors"),
            "doctors",
            ["worked_by_doctor_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("snp_patterns") as batch:
        batch.drop_constraint(op.f("fk_snp_patterns_worked_by_doctor_id_doctors"), type_="foreignkey")
        batch.drop_column("worked_by_doctor_id")
    with op.batch_alter_table("snp_slots") as batch:
        batch.drop_index(op.f("ix_snp_slots_worked_by_doctor_id"))
        batch.drop_constraint(op.f("ck_snp_slots_worked_by_at_centre"), type_="check")
        batch.drop_constraint(op.f("fk_snp_slots_worked_by_doctor_id_doctors"), type_="foreignkey")
        batch.drop_column("worked_by_doctor_id")

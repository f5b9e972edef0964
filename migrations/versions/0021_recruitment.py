"""recruiting volunteers: the invitations sent to the directory's GPs, and the sign-ups the
coordination approves

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "doctor_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column(
            "practitioner_id",
            sa.Integer(),
            sa.ForeignKey("directory_practitioners.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("channel", sa.String(length=6), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("sent_by_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_doctor_invitations_territory_id", "doctor_invitations", ["territory_id"])
    op.create_index("ix_doctor_invitations_rpps", "doctor_invitations", ["rpps"])
    op.create_index("ix_doctor_invitations_practitioner_id", "doctor_invitations", ["practitioner_id"])
    op.create_table(
        "volunteer_applications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "invitation_id", sa.Integer(), sa.ForeignKey("doctor_invitations.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("in_directory", sa.Boolean(), nullable=False),
        sa.Column("civility", sa.String(length=3), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("availability", sa.JSON(), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_volunteer_applications_territory_id", "volunteer_applications", ["territory_id"])
    op.create_index("ix_volunteer_applications_status", "volunteer_applications", ["status"])
    op.create_index("ix_volunteer_applications_rpps", "volunteer_applications", ["rpps"])


def downgrade() -> None:
    op.drop_table("volunteer_applications")
    op.drop_table("doctor_invitations")

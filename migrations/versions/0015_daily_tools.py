"""daily tools: sources get details and can be retired; the weekly digest is recorded once per
CPTS and week

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-04 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("details", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "weekly_digests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("territory_id", "week_start", name="uq_weekly_digests_territory_week"),
    )


def downgrade() -> None:
    op.drop_table("weekly_digests")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("details")

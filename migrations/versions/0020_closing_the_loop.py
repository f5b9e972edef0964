"""closing the loop: the one reminder of an unanswered offer, and the request the automatic mode
handed back to the coordination (no doctor left)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("doctor_offers") as batch:
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("patient_requests") as batch:
        batch.add_column(sa.Column("no_doctor_left_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient_requests") as batch:
        batch.drop_column("no_doctor_left_at")
    with op.batch_alter_table("doctor_offers") as batch:
        batch.drop_column("reminded_at")

"""the doctor's offer link made short: the SHA-256 of its 22-character token, kept with the
offer and looked up by it (app/requests/offers.py); the offers made before keep their signed
links, answered as before until they lapse

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A column added alone: no table rebuild on SQLite (the partial unique index of 0017 stays as it is).
    with op.batch_alter_table("doctor_offers") as batch:
        batch.add_column(sa.Column("link_hash", sa.String(length=64), nullable=True))
    op.create_index("uq_doctor_offers_link_hash", "doctor_offers", ["link_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_doctor_offers_link_hash", table_name="doctor_offers")
    with op.batch_alter_table("doctor_offers") as batch:
        batch.drop_column("link_hash")

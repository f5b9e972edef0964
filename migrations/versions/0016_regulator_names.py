"""a SAS regulator's name as the platform sent it: family and given names apart

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-04 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: only regulators (INT_R02) have them; for the others display_name is enough.
    # Accounts made before: their name is read back from display_name as before.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("family_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("given_names", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("given_names")
        batch.drop_column("family_name")

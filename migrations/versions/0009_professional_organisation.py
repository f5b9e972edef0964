"""a professional's organisation (pharmacy, practice, CPAM…): the source of its requests

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 15:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite adds a foreign key by copying the table.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_users_organisation_id_sources", "sources", ["organisation_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_organisation_id_sources", type_="foreignkey")
        batch.drop_column("organisation_id")

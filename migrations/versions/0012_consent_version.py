"""the version of the consent text each request's patient accepted

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: requests received before the text was versioned have none (they were shown the
    # wording of app/privacy/consent.py's first version, which promised the same year).
    with op.batch_alter_table("patient_requests") as batch:
        batch.add_column(sa.Column("consent_version", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient_requests") as batch:
        batch.drop_column("consent_version")

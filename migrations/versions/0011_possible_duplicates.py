"""a request's possible duplicate: the earlier open request of the same phone and birth date

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OPEN_IDENTITY = "uq_patient_requests_open_identity"
OPEN = "status IN ('received', 'proposed')"


def _restore_open_identity_index() -> None:
    """SQLite's copy of the table (batch mode) may not carry the partial unique index over
    with its WHERE: made again, exactly as 0003 made it."""
    op.execute(f"DROP INDEX IF EXISTS {OPEN_IDENTITY}")
    op.create_index(
        OPEN_IDENTITY,
        "patient_requests",
        ["territory_id", "identity_key"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def upgrade() -> None:
    with op.batch_alter_table("patient_requests") as batch:
        batch.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_patient_requests_duplicate_of_id_patient_requests"),
            "patient_requests",
            ["duplicate_of_id"],
            ["id"],
            ondelete="SET NULL",
        )
    if op.get_bind().dialect.name == "sqlite":
        _restore_open_identity_index()
    op.create_index(op.f("ix_patient_requests_duplicate_of_id"), "patient_requests", ["duplicate_of_id"])
    op.create_index("ix_patient_requests_birth_date_phone", "patient_requests", ["territory_id", "birth_date", "phone"])


def downgrade() -> None:
    op.drop_index("ix_patient_requests_birth_date_phone", table_name="patient_requests")
    op.drop_index(op.f("ix_patient_requests_duplicate_of_id"), table_name="patient_requests")
    with op.batch_alter_table("patient_requests") as batch:
        batch.drop_constraint(op.f("fk_patient_requests_duplicate_of_id_patient_requests"), type_="foreignkey")
        batch.drop_column("duplicate_of_id")
    if op.get_bind().dialect.name == "sqlite":
        _restore_open_identity_index()

"""Pro Santé Connect sign-in: the national identifier of an account, the coordination's
consent that a doctor's first PSC sign-in creates its account, and the spent `state` values

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # IDNPS (8 + RPPS), as Pro Santé Connect's SubjectNameID sends it; set at the first PSC sign-in.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("national_id", sa.String(length=20), nullable=True))
        batch.create_unique_constraint(batch.f("uq_users_national_id"), ["national_id"])
    with op.batch_alter_table("doctors") as batch:
        batch.add_column(sa.Column("psc_sign_in_allowed", sa.Boolean(), nullable=False, server_default=sa.false()))
    # A `state` comes back once: the callback records its digest, a second arrival is refused.
    op.create_table(
        "psc_spent_states",
        sa.Column("state_digest", sa.String(length=64), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_digest", name=op.f("pk_psc_spent_states")),
    )
    op.create_index(op.f("ix_psc_spent_states_spent_at"), "psc_spent_states", ["spent_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_psc_spent_states_spent_at"), table_name="psc_spent_states")
    op.drop_table("psc_spent_states")
    with op.batch_alter_table("doctors") as batch:
        batch.drop_column("psc_sign_in_allowed")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(batch.f("uq_users_national_id"), type_="unique")
        batch.drop_column("national_id")

"""SMS through a provider, and their delivery receipts: which provider took a message, under
which id (indexed: a receipt finds its message by it), and what the receipt said

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("provider", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("provider_message_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("delivery", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("delivery_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("delivery_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_outbox_messages_provider_message", ["provider", "provider_message_id"])
        batch.create_index("ix_outbox_messages_delivery", ["delivery"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index("ix_outbox_messages_delivery")
        batch.drop_index("ix_outbox_messages_provider_message")
        batch.drop_column("delivery_at")
        batch.drop_column("delivery_reason")
        batch.drop_column("delivery")
        batch.drop_column("provider_message_id")
        batch.drop_column("provider")

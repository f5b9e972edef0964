"""retention: when personal data was erased, the age band kept instead of the birth date,
accounts' last activity and deactivation; the audit trail may lose its rows older than the
retention period (PostgreSQL), through one function only

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_WITH_PURGE = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    -- Rows are never updated. They are deleted only by purge_audit_events(), which sets
    -- this flag for its own transaction: the retention of the trail, nothing else.
    IF TG_OP = 'DELETE' AND current_setting('orientation.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql
"""

PURGE_FUNCTION = """
CREATE OR REPLACE FUNCTION purge_audit_events(older_than timestamptz) RETURNS bigint AS $$
DECLARE
    dropped bigint;
BEGIN
    PERFORM set_config('orientation.audit_purge', 'on', true);
    DELETE FROM audit_events WHERE at < older_than;
    GET DIAGNOSTICS dropped = ROW_COUNT;
    PERFORM set_config('orientation.audit_purge', 'off', true);
    RETURN dropped;
END;
$$ LANGUAGE plpgsql
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("patient_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("age_band", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("snp_bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        # Figures of an event, never personal data: e.g. a retention run's counts.
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_WITH_PURGE)
        op.execute(PURGE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION purge_audit_events(timestamptz)")
        op.execute(APPEND_ONLY)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("details")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("last_active_at")
    with op.batch_alter_table("snp_bookings", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("patient_requests", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("age_band")

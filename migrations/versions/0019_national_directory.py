"""the national directory: the GPs of the RPPS practising in a CPTS's communes, their practices,
and the report of each import

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_practitioners",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("civility", sa.String(length=20), nullable=True),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("know_how_code", sa.String(length=10), nullable=True),
        sa.Column("know_how_label", sa.String(length=100), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("territory_id", "rpps", name="uq_directory_practitioners_territory_rpps"),
    )
    op.create_index("ix_directory_practitioners_territory_id", "directory_practitioners", ["territory_id"])
    op.create_index("ix_directory_practitioners_rpps", "directory_practitioners", ["rpps"])
    op.create_table(
        "directory_practices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "practitioner_id",
            sa.Integer(),
            sa.ForeignKey("directory_practitioners.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("mode", sa.String(length=1), nullable=True),
        sa.Column("structure_name", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=5), nullable=True),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("precision", sa.String(length=20), nullable=True),
    )
    op.create_index("ix_directory_practices_practitioner_id", "directory_practices", ["practitioner_id"])
    op.create_index("ix_directory_practices_insee_code", "directory_practices", ["insee_code"])
    op.create_table(
        "directory_imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lines_read", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("gone", sa.Integer(), nullable=False),
        sa.Column("unreadable", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_directory_imports_territory_id", "directory_imports", ["territory_id"])


def downgrade() -> None:
    op.drop_index("ix_directory_imports_territory_id", table_name="directory_imports")
    op.drop_table("directory_imports")
    op.drop_index("ix_directory_practices_insee_code", table_name="directory_practices")
    op.drop_index("ix_directory_practices_practitioner_id", table_name="directory_practices")
    op.drop_table("directory_practices")
    op.drop_index("ix_directory_practitioners_rpps", table_name="directory_practitioners")
    op.drop_index("ix_directory_practitioners_territory_id", table_name="directory_practitioners")
    op.drop_table("directory_practitioners")

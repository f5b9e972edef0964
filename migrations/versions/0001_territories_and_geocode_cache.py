"""territories (CPTS and their communes) and the geocoding cache

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "territories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("finess", sa.String(length=9), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_territories")),
        sa.UniqueConstraint("finess", name=op.f("uq_territories_finess")),
        sa.UniqueConstraint("slug", name=op.f("uq_territories_slug")),
    )
    op.create_table(
        "territory_communes",
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_territory_communes_territory_id_territories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("insee_code", name=op.f("pk_territory_communes")),
    )
    op.create_index(op.f("ix_territory_communes_territory_id"), "territory_communes", ["territory_id"])
    op.create_table(
        "geocode_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("precision", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_geocode_cache")),
    )
    op.create_index(op.f("ix_geocode_cache_created_at"), "geocode_cache", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_geocode_cache_created_at"), table_name="geocode_cache")
    op.drop_table("geocode_cache")
    op.drop_index(op.f("ix_territory_communes_territory_id"), table_name="territory_communes")
    op.drop_table("territory_communes")
    op.drop_table("territories")

"""communes' official names: the names stored with requests, practices and centres get their article

The bundled table of communes used to keep INSEE's name without its article; the names
copied from it into requests (commune_name), practice locations and SNP centres (city)
read "Touquet-Paris-Plage", "Herm". They become the official "Le Touquet-Paris-Plage",
"L'Herm". Only a name that is exactly the old spelling of its row's commune (by INSEE code)
is rewritten. Data only; nothing to undo on the way down (the names with their article are
right for the older code too).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column holding the commune's name); each table has its commune's insee_code.
NAMED_COMMUNES = [("patient_requests", "commune_name"), ("practice_locations", "city"), ("snp_centres", "city")]


def upgrade() -> None:
    from app.territories.communes import get_commune_index, name_without_article

    renames = [
        {"insee": commune.insee, "old": old, "new": commune.name}
        for commune in get_commune_index()
        if (old := name_without_article(commune.name))
    ]
    connection = op.get_bind()
    for table_name, column in NAMED_COMMUNES:
        table = sa.table(table_name, sa.column("insee_code", sa.String), sa.column(column, sa.String))
        named = table.c[column]
        statement = (
            sa.update(table)
            .where(table.c.insee_code == sa.bindparam("insee"), named == sa.bindparam("old"))
            .values({column: sa.bindparam("new")})
        )
        connection.execute(statement, renames)


def downgrade() -> None:
    pass

"""Queries on CPTS territories. Territories are public facts (a CPTS and its communes), so
nothing here is scoped to a caller; patient data, later, will be."""

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.territories.models import Territory, TerritoryCommune


def list_territories(session: Session) -> Sequence[Territory]:
    query = select(Territory).options(selectinload(Territory.communes)).order_by(Territory.name)
    return session.scalars(query).all()


def get_by_slug(session: Session, slug: str, *, with_communes: bool = True) -> Territory | None:
    query = select(Territory).where(Territory.slug == slug)
    if with_communes:
        query = query.options(selectinload(Territory.communes))
    return session.scalars(query).one_or_none()


def get(session: Session, territory_id: int) -> Territory | None:
    return session.get(Territory, territory_id)


def of_principal(session: Session, principal: Principal) -> list[Territory]:
    """The CPTS a caller works in (every one for an admin), by name: what it may switch to."""
    return list(session.scalars(select(Territory).where(visible(Territory, principal)).order_by(Territory.name)))


def commune_codes(session: Session, territory_id: int) -> list[str]:
    """The INSEE codes of a CPTS's communes."""
    return list(
        session.scalars(select(TerritoryCommune.insee_code).where(TerritoryCommune.territory_id == territory_id))
    )


def get_by_finess(session: Session, finess: str) -> Territory | None:
    return session.scalars(select(Territory).where(Territory.finess == finess)).one_or_none()


def claimed_communes(
    session: Session, insee_codes: Iterable[str], *, excluding: Territory | None = None
) -> list[tuple[str, Territory]]:
    """Which of these communes another CPTS already serves, and which one."""
    codes = list(set(insee_codes))
    if not codes:
        return []
    query = (
        select(TerritoryCommune.insee_code, Territory)
        .join(Territory)
        .where(TerritoryCommune.insee_code.in_(codes))
        .order_by(TerritoryCommune.insee_code)
    )
    if excluding is not None and excluding.id is not None:
        query = query.where(Territory.id != excluding.id)
    return [(code, territory) for code, territory in session.execute(query).all()]


def territories_by_commune(session: Session, insee_codes: Sequence[str] | None) -> dict[str, Territory]:
    """INSEE code → the CPTS serving it, for these codes (None: every commune served)."""
    query = select(TerritoryCommune.insee_code, Territory).join(Territory)
    if insee_codes is not None:
        query = query.where(TerritoryCommune.insee_code.in_([c for c in insee_codes if c]))
    return {code: territory for code, territory in session.execute(query).all()}


# Every submission's residency check reads this: built once, the two codes as parameters.
_SERVING_COMMUNE = (
    select(TerritoryCommune.insee_code, Territory)
    .join(Territory)
    .where(TerritoryCommune.insee_code.in_([bindparam("insee"), bindparam("parent")]))
)


def territories_of_commune(session: Session, insee_code: str, parent_insee: str | None) -> dict[str, Territory]:
    """INSEE code → the CPTS serving it, for a commune and its city (an arrondissement's)."""
    rows = session.execute(_SERVING_COMMUNE, {"insee": insee_code, "parent": parent_insee or ""})
    return {code: territory for code, territory in rows}

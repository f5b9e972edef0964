"""The rules about CPTS territories: what a valid one is, and that communes never overlap."""

from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.core.constraints import conflict_for
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, Unprocessable
from app.geocoding.offline import OfflineGeocoder
from app.territories import repository
from app.territories.communes import Commune, CommuneIndex
from app.territories.models import Territory, TerritoryCommune
from app.territories.schemas import (
    CommuneByName,
    CommuneOut,
    TerritoryCreate,
    TerritoryOut,
    TerritoryUpdate,
)


def commune_out(commune: Commune) -> CommuneOut:
    return CommuneOut(
        insee=commune.insee,
        name=commune.name,
        department=commune.department,
        postcodes=list(commune.postcodes),
        population=commune.population,
        latitude=commune.latitude,
        longitude=commune.longitude,
    )


def territory_out(territory: Territory, communes: CommuneIndex) -> TerritoryOut:
    members = [c for c in (communes.get(code) for code in territory.insee_codes) if c]
    return TerritoryOut(
        slug=territory.slug,
        name=territory.name,
        finess=territory.finess,
        weight_ald=territory.weight_ald,
        weight_age_70=territory.weight_age_70,
        weight_css=territory.weight_css,
        phone=territory.phone,
        email=territory.email,
        population=sum(c.population for c in members),
        communes=[commune_out(c) for c in members],
        created_at=territory.created_at,
        updated_at=territory.updated_at,
    )


def resolve_communes(refs: list[str | CommuneByName], communes: CommuneIndex) -> list[str]:
    """INSEE codes for the given references, or a 422 listing every one that is not a commune."""
    offline = OfflineGeocoder(communes)
    codes: list[str] = []
    problems: list[FieldError] = []
    for position, ref in enumerate(refs):
        field = f"communes.{position}"
        if isinstance(ref, str):
            commune = communes.get(ref)
            if commune is None:
                problems.append(FieldError(field=field, message=f"Code INSEE inconnu : {ref}."))
            else:
                codes.append(commune.insee)
            continue
        resolution = offline.resolve_commune(ref.postcode, ref.name)
        if resolution.commune is not None:
            codes.append(resolution.commune.insee)
            continue
        names = ", ".join(f"{c.name} ({c.insee})" for c in resolution.candidates)
        message = f"Aucune commune « {ref.name} » pour le code postal {ref.postcode}."
        if names:
            message += f" Communes de ce code postal : {names}."
        problems.append(FieldError(field=field, message=message))
    if problems:
        raise Unprocessable("Certaines communes sont introuvables.", fields=problems)
    return list(dict.fromkeys(codes))  # keep the order given, drop repeats


def _refuse_overlap(session: Session, codes: list[str], communes: CommuneIndex, territory: Territory | None) -> None:
    claimed = repository.claimed_communes(session, codes, excluding=territory)
    if not claimed:
        return
    described = [f"{_label(code, communes)} ({other.name})" for code, other in claimed]
    raise Conflict(
        "Ces communes appartiennent déjà à une autre CPTS : " + ", ".join(described) + ".",
        overlapping=[{"insee": code, "territory": {"slug": other.slug, "name": other.name}} for code, other in claimed],
    )


def _label(code: str, communes: CommuneIndex) -> str:
    commune = communes.get(code)
    return f"{commune.name} {code}" if commune else code


def create_territory(session: Session, data: TerritoryCreate, communes: CommuneIndex) -> Territory:
    codes = resolve_communes(data.communes, communes)
    if repository.get_by_slug(session, data.slug) is not None:
        raise Conflict(f"Une CPTS existe déjà avec l'identifiant « {data.slug} ».")
    if repository.get_by_finess(session, data.finess) is not None:
        raise Conflict(f"Une CPTS existe déjà avec le numéro FINESS {data.finess}.")
    _refuse_overlap(session, codes, communes, None)
    territory = Territory(
        slug=data.slug,
        name=data.name,
        finess=data.finess,
        phone=data.phone,
        email=str(data.email),
        communes=[TerritoryCommune(insee_code=code) for code in codes],
    )
    _write(session, territory, codes, communes, lambda: session.add(territory))
    return territory


def update_territory(session: Session, slug: str, data: TerritoryUpdate, communes: CommuneIndex) -> Territory:
    territory = get_territory(session, slug)
    codes = resolve_communes(data.communes, communes) if data.communes is not None else None
    if codes is not None:
        _refuse_overlap(session, codes, communes, territory)

    def change() -> None:
        if data.name is not None:
            territory.name = data.name
        if data.phone is not None:
            territory.phone = data.phone
        if data.email is not None:
            territory.email = str(data.email)
        for weight in ("weight_ald", "weight_age_70", "weight_css"):
            if getattr(data, weight) is not None:
                setattr(territory, weight, getattr(data, weight))
        if codes is not None:
            kept = {c.insee_code: c for c in territory.communes}
            territory.communes = [kept.get(code) or TerritoryCommune(insee_code=code) for code in codes]
        territory.updated_at = utcnow()

    _write(session, territory, codes or [], communes, change)
    return territory


def get_territory(session: Session, slug: str) -> Territory:
    territory = repository.get_by_slug(session, slug)
    if territory is None:
        raise NotFound(f"Aucune CPTS « {slug} ».")
    return territory


def _write(
    session: Session, territory: Territory, codes: list[str], communes: CommuneIndex, change: Callable[[], None]
) -> None:
    """Makes the change and flushes it in a savepoint (which flushes what was pending before it
    begins: hence the change inside). When two writes raced past the checks above, the unique
    keys settled it, and the transaction is still good enough to say which communes clash."""
    try:
        with session.begin_nested():
            change()
            session.flush()
    except IntegrityError as error:
        # A new CPTS is no longer in the session: the savepoint took it back.
        _refuse_overlap(session, codes, communes, territory if territory in session else None)
        raise conflict_for(error) or error from None


def list_territories(session: Session) -> Sequence[Territory]:
    """Every CPTS, by name (public facts)."""
    return repository.list_territories(session)


def territories_of(session: Session, principal: Principal) -> list[Territory]:
    """The CPTS a caller works in (every one for an admin), by name."""
    return repository.of_principal(session, principal)


def territory_by_slug(session: Session, slug: str) -> Territory | None:
    """A CPTS by its slug, or None (public facts: no caller to scope to)."""
    return repository.get_by_slug(session, slug, with_communes=False)


def get_territory_by_id(session: Session, territory_id: int) -> Territory | None:
    return repository.get(session, territory_id)


def commune_choices(session: Session, communes: CommuneIndex, territory_id: int | None) -> list[tuple[str, str]]:
    """(INSEE code, name) of a CPTS's communes, by name: a filter's choices."""
    if territory_id is None:
        return []
    named = []
    for code in repository.commune_codes(session, territory_id):
        commune = communes.get(code)
        named.append((code, commune.name if commune else code))
    return sorted(named, key=lambda c: c[1])

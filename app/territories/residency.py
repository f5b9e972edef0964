"""The residency rule: someone lives in a CPTS when the commune they live in is one of its
communes. Decided on the INSEE code of the commune, never on a postcode (62217 serves
communes inside and outside the Grand Arras)."""

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.core.errors import FieldError, Unprocessable
from app.geocoding.service import GeocodingService, Placement, UndecidableCommune
from app.territories import repository
from app.territories.communes import Commune
from app.territories.models import Territory

POSTCODE = re.compile(r"^\d{5}$")

_PROBLEMS = {
    "unknown_postcode": ("postcode", "Code postal inconnu : {postcode}."),
    "city_required": (
        "city",
        "Le code postal {postcode} couvre plusieurs communes : indiquez la vôtre.",
    ),
    "city_not_in_postcode": (
        "city",
        "Cette commune ne correspond pas au code postal {postcode} : choisissez dans la liste.",
    ),
    "several_communes": ("city", "Plusieurs communes portent ce nom : choisissez la vôtre."),
}


class TerritoryMap:
    """Which CPTS serves which commune. `serving` is the rule: the commune itself, or for an
    arrondissement (Marseille 1er) its city (Marseille), is one of the CPTS's communes."""

    def __init__(self, by_insee: dict[str, Territory]) -> None:
        self.by_insee = by_insee

    @classmethod
    def for_commune(cls, session: Session, commune: Commune) -> "TerritoryMap":
        return cls(repository.territories_of_commune(session, commune.insee, commune.parent_insee))

    @classmethod
    def whole(cls, session: Session) -> "TerritoryMap":
        """Every commune of every CPTS at once, for bulk work (a few thousand rows at most)."""
        return cls(repository.territories_by_commune(session, None))

    def serving(self, commune: Commune) -> Territory | None:
        return self.by_insee.get(commune.insee) or self.by_insee.get(commune.parent_insee or "")


@dataclass(frozen=True)
class Residency:
    placement: Placement
    territory: Territory | None

    @property
    def message(self) -> str:
        commune = self.placement.commune
        if self.territory is None:
            return f"{commune.name} ({commune.insee}) ne fait partie d'aucun territoire CPTS suivi par ce service."
        return f"{commune.name} ({commune.insee}) fait partie du territoire de la {self.territory.name}."


def check_residency(
    session: Session,
    geocoding: GeocodingService,
    postcode: str,
    city: str | None,
    address: str | None = None,
    *,
    writing: bool = False,
    territories: TerritoryMap | None = None,
) -> Residency:
    """Raises a 422 naming the field to fix, with the candidate communes when there are some.
    `writing`: `session` is a write transaction, in which the geocoder may cache.
    `territories`: a map loaded beforehand (bulk work); otherwise one small query."""
    placement = place_commune(session, geocoding, postcode, city, address, writing=writing)
    commune = placement.commune
    if territories is None:
        territories = TerritoryMap.for_commune(session, commune)
    return Residency(placement, territories.serving(commune))


def place_commune(
    session: Session,
    geocoding: GeocodingService,
    postcode: str,
    city: str | None,
    address: str | None = None,
    *,
    writing: bool = False,
) -> Placement:
    """The commune (and the point) a postcode, city and address designate: the first half of
    check_residency, for a caller that reads the CPTS serving it along with something else
    (the intake: with the person's open requests, in one query). The same 422s."""
    postcode = (postcode or "").strip()
    if not POSTCODE.match(postcode):
        raise Unprocessable(
            "Code postal invalide.",
            fields=[FieldError(field="postcode", message="Code postal invalide : 5 chiffres attendus.")],
        )
    try:
        return geocoding.place(postcode, city, address, session=session if writing else None)
    except UndecidableCommune as exc:
        field, template = _PROBLEMS.get(exc.problem, ("city", "Commune introuvable."))
        message = template.format(postcode=postcode)
        raise Unprocessable(
            message,
            fields=[FieldError(field=field, message=message)],
            reason=exc.problem,
            candidates=[{"insee": c.insee, "name": c.name, "postcode": postcode} for c in exc.candidates],
        ) from None

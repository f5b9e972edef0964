"""Locating without any network: the commune from postcode + name, its centroid as the point."""

from dataclasses import dataclass, field

from app.geocoding.base import Location
from app.territories.communes import Commune, CommuneIndex


@dataclass(frozen=True)
class CommuneResolution:
    """Either one commune, or why not and which communes it could be."""

    commune: Commune | None
    candidates: list[Commune] = field(default_factory=list)
    # unknown_postcode | city_required | city_not_in_postcode | several_communes
    problem: str | None = None


class OfflineGeocoder:
    name = "offline"

    def __init__(self, communes: CommuneIndex) -> None:
        self.communes = communes

    def resolve_commune(self, postcode: str, city: str | None) -> CommuneResolution:
        served = self.communes.by_postcode(postcode)
        if not served:
            return CommuneResolution(None, [], "unknown_postcode")
        if city and city.strip():
            matches = self.communes.match(postcode, city)
            if len(matches) == 1:
                return CommuneResolution(matches[0])
            if not matches:
                return CommuneResolution(None, served, "city_not_in_postcode")
            return CommuneResolution(None, matches, "several_communes")
        if len(served) == 1:
            # The postcode serves one commune only: nothing left to decide.
            return CommuneResolution(served[0])
        return CommuneResolution(None, served, "city_required")

    @staticmethod
    def locate(commune: Commune, postcode: str) -> Location | None:
        if commune.latitude is None or commune.longitude is None:
            return None
        return Location(
            insee_code=commune.insee,
            postcode=postcode,
            latitude=commune.latitude,
            longitude=commune.longitude,
            precision="municipality",
        )

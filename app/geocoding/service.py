"""Where does someone live? Commune first (decided offline, exactly), then the point.

The BAN is asked for the street address when it is configured; whatever it answers must
agree with the commune the person gave, and when it cannot be asked or finds nothing we
fall back to the commune's centroid and say so."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.core.settings import Settings
from app.geocoding.ban import BanGeocoder
from app.geocoding.base import AddressGeocoder, GeocoderUnavailable, Location
from app.geocoding.cache import CachedGeocoder
from app.geocoding.offline import CommuneResolution, OfflineGeocoder
from app.territories.communes import Commune, CommuneIndex, get_commune_index


@dataclass(frozen=True)
class Placement:
    commune: Commune
    postcode: str
    location: Location | None
    geocoder: str  # "ban" or "offline"
    # Why the BAN's answer is not the one used, when an address was given:
    # ban_not_configured | ban_unavailable | address_not_found | address_in_other_commune
    fallback_reason: str | None = None


class UndecidableCommune(Exception):
    def __init__(self, postcode: str, resolution: CommuneResolution) -> None:
        super().__init__(resolution.problem)
        self.postcode = postcode
        self.problem = resolution.problem or "undecidable"
        self.candidates = resolution.candidates


class GeocodingService:
    def __init__(self, communes: CommuneIndex, address_geocoder: AddressGeocoder | None) -> None:
        self.communes = communes
        self.offline = OfflineGeocoder(communes)
        self.address_geocoder = address_geocoder

    @contextmanager
    def prefetched(self, queries: Iterable[tuple[str, str, str | None]], session: Session) -> Iterator[None]:
        """For bulk work (CSV imports): cached BAN answers for these addresses (address,
        postcode, city) are loaded at once instead of one query each."""
        geocoder = self.address_geocoder
        if not isinstance(geocoder, CachedGeocoder):  # nothing cached, nothing to load
            yield
            return
        geocoder.prefetch(queries, session)
        try:
            yield
        finally:
            geocoder.forget_prefetched()

    def place(
        self, postcode: str, city: str | None, address: str | None = None, *, session: Session | None = None
    ) -> Placement:
        """Raises UndecidableCommune, with the candidates, rather than guessing. `session`:
        the caller's write transaction, if any, where what the BAN answers is cached."""
        resolution = self.offline.resolve_commune(postcode, city)
        fallback_reason = None
        if address and address.strip():
            if self.address_geocoder is None:
                fallback_reason = "ban_not_configured"
            else:
                try:
                    found = self.address_geocoder.geocode(address.strip(), postcode, city, session)
                except GeocoderUnavailable:
                    found, fallback_reason = None, "ban_unavailable"
                if found is not None:
                    commune = self._agreeing_commune(found, resolution)
                    if commune is not None:
                        return Placement(commune, postcode, found, self.address_geocoder.name)
                    fallback_reason = "address_in_other_commune"
                elif fallback_reason is None:
                    fallback_reason = "address_not_found"
        if resolution.commune is None:
            raise UndecidableCommune(postcode, resolution)
        location = self.offline.locate(resolution.commune, postcode)
        return Placement(resolution.commune, postcode, location, "offline", fallback_reason)

    def _agreeing_commune(self, found: Location, resolution: CommuneResolution) -> Commune | None:
        commune = self.communes.get(found.insee_code)
        if commune is None:
            return None
        if resolution.commune is not None:
            same = commune.insee == resolution.commune.insee
            return commune if same else None
        if resolution.problem == "unknown_postcode":
            return commune  # a postcode newer than our table: the BAN knows better
        allowed = {c.insee for c in resolution.candidates}
        return commune if commune.insee in allowed else None


def build_geocoding_service(settings: Settings, sessions: sessionmaker[Session]) -> GeocodingService:
    address_geocoder: AddressGeocoder | None = None
    if settings.ban_url:
        address_geocoder = CachedGeocoder(
            BanGeocoder(
                settings.ban_url,
                timeout=settings.ban_timeout_seconds,
                min_score=settings.ban_min_score,
            ),
            sessions,
            settings.geocode_cache_days,
        )
    return GeocodingService(get_commune_index(), address_geocoder)

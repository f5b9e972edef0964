"""Database cache of BAN answers, keyed by a hash of the normalised query."""

import hashlib
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import utcnow
from app.geocoding.base import AddressGeocoder, Location
from app.geocoding.models import GeocodeCacheEntry
from app.territories.communes import normalize_name


def cache_key(address: str, postcode: str, city: str | None) -> str:
    # "12 Rue St-Jean" and "12 rue saint jean" are the same address for the BAN.
    normalised = "|".join((normalize_name(address), postcode.strip(), normalize_name(city or "")))
    return hashlib.sha256(normalised.encode()).hexdigest()


class CachedGeocoder:
    """Wraps an address geocoder; only confident answers are kept."""

    def __init__(
        self, inner: AddressGeocoder, sessions: sessionmaker[Session], max_age_days: int
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._sessions = sessions
        self._max_age = timedelta(days=max_age_days)

    def geocode(self, address: str, postcode: str, city: str | None) -> Location | None:
        key = cache_key(address, postcode, city)
        # Its own short session: a cache write must never commit the caller's transaction.
        with self._sessions() as session:
            entry = session.get(GeocodeCacheEntry, key)
            if entry is not None and utcnow() - entry.created_at < self._max_age:
                return Location(
                    insee_code=entry.insee_code,
                    postcode=entry.postcode,
                    latitude=entry.latitude,
                    longitude=entry.longitude,
                    precision=entry.precision,  # type: ignore[arg-type]
                    score=entry.score,
                )
        location = self.inner.geocode(address, postcode, city)
        if location is not None:
            self._store(key, location)
        return location

    def _store(self, key: str, location: Location) -> None:
        with self._sessions() as session:
            session.merge(
                GeocodeCacheEntry(
                    key=key,
                    insee_code=location.insee_code,
                    postcode=location.postcode,
                    latitude=location.latitude,
                    longitude=location.longitude,
                    precision=location.precision,
                    score=location.score or 0.0,
                    created_at=utcnow(),
                )
            )
            try:
                session.commit()
            except IntegrityError:
                # Another request stored the same address meanwhile: its answer is as good.
                session.rollback()

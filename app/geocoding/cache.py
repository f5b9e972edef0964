"""Database cache of BAN answers, keyed by a hash of the normalised query."""

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.database import own_transaction, utcnow
from app.geocoding.base import AddressGeocoder, Location
from app.geocoding.models import GeocodeCacheEntry
from app.territories.communes import normalize_name


def cache_key(address: str, postcode: str, city: str | None) -> str:
    # "12 Rue St-Jean" and "12 rue saint jean" are the same address for the BAN.
    normalised = "|".join((normalize_name(address), postcode.strip(), normalize_name(city or "")))
    return hashlib.sha256(normalised.encode()).hexdigest()


def _location(entry: GeocodeCacheEntry) -> Location:
    return Location(
        insee_code=entry.insee_code,
        postcode=entry.postcode,
        latitude=entry.latitude,
        longitude=entry.longitude,
        precision=entry.precision,
        score=entry.score,
    )


class CachedGeocoder:
    """Wraps an address geocoder; only confident answers are kept."""

    def __init__(self, inner: AddressGeocoder, sessions: sessionmaker[Session], max_age_days: int) -> None:
        self.inner = inner
        self.name = inner.name
        self._sessions = sessions
        self._max_age = timedelta(days=max_age_days)
        self._prefetched: dict[str, Location] = {}

    def prefetch(self, queries: Iterable[tuple[str, str, str | None]], session: Session) -> None:
        """Loads the cached answers for many addresses in a few queries (CSV imports), in
        the caller's transaction; `geocode` then finds them in memory. Call
        `forget_prefetched` when done."""
        keys = list({cache_key(*query) for query in queries})
        if keys:
            for start in range(0, len(keys), 500):
                entries = session.scalars(
                    select(GeocodeCacheEntry).where(GeocodeCacheEntry.key.in_(keys[start : start + 500]))
                )
                self._prefetched.update(
                    (e.key, _location(e)) for e in entries if utcnow() - e.created_at < self._max_age
                )

    def forget_prefetched(self) -> None:
        self._prefetched.clear()

    def geocode(self, address: str, postcode: str, city: str | None, session: Session | None = None) -> Location | None:
        """`session`: the caller's write transaction, when it has one (see _store)."""
        key = cache_key(address, postcode, city)
        if key in self._prefetched:
            return self._prefetched[key]
        if session is not None:
            entry = session.get(GeocodeCacheEntry, key)
        else:
            with self._sessions() as own:
                entry = own.get(GeocodeCacheEntry, key)
        if entry is not None and utcnow() - entry.created_at < self._max_age:
            return _location(entry)
        location = self.inner.geocode(address, postcode, city)
        if location is not None:
            self._store(key, location, session)
        return location

    def _store(self, key: str, location: Location, session: Session | None) -> None:
        entry = GeocodeCacheEntry(
            key=key,
            insee_code=location.insee_code,
            postcode=location.postcode,
            latitude=location.latitude,
            longitude=location.longitude,
            precision=location.precision,
            score=location.score or 0.0,
            created_at=utcnow(),
        )
        if session is not None:
            # Inside the caller's write transaction: a second writer would wait for it (and
            # on SQLite, for ever). A savepoint keeps a clash on the key from spoiling it.
            try:
                with session.begin_nested():
                    session.merge(entry)
            except IntegrityError:
                pass  # another request stored the same address meanwhile: as good
            return
        # Otherwise its own short transaction: a cache write never commits anybody else's.
        try:
            with own_transaction(self._sessions) as own:
                own.merge(entry)
        except IntegrityError:
            pass  # another request stored the same address meanwhile: as good

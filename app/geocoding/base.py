"""What every geocoder answers with."""

from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.orm import Session

Precision = Literal["housenumber", "street", "locality", "municipality"]


@dataclass(frozen=True, slots=True)
class Location:
    insee_code: str
    postcode: str
    latitude: float
    longitude: float
    precision: Precision
    # The BAN's confidence, 0–1; None for the offline geocoder, which is exact about the
    # commune and approximate (its centroid) about the point.
    score: float | None = None


class GeocoderUnavailable(Exception):
    """The geocoder could not be asked (network, timeout, server error). Callers fall back."""


class AddressGeocoder(Protocol):
    name: str

    def geocode(self, address: str, postcode: str, city: str | None, session: Session | None = None) -> Location | None:
        """The best confident match for a street address, or None when there is none.
        `session` is the caller's write transaction, for geocoders that store what they find."""
        ...

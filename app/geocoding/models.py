from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, UTCDateTime, utcnow
from app.geocoding.base import Precision


class GeocodeCacheEntry(Base):
    """A BAN answer kept so that the same address is not sent twice.

    The key is a SHA-256 of the normalised query, and the address text itself is not
    stored: the cache holds where a query lands, not who lives there."""

    __tablename__ = "geocode_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    insee_code: Mapped[str] = mapped_column(String(5))
    postcode: Mapped[str] = mapped_column(String(5))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    precision: Mapped[Precision] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

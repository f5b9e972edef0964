"""Every mapped model, imported in one place so that Alembic and the tests see them all."""

from app.core.database import Base
from app.geocoding.models import GeocodeCacheEntry
from app.territories.models import Territory, TerritoryCommune

__all__ = ["Base", "GeocodeCacheEntry", "Territory", "TerritoryCommune"]

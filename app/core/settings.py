"""Settings, read once from environment variables prefixed ``ORIENTATION_``."""

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "orientation.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORIENTATION_", extra="ignore")

    # SQLite by default so that nothing has to be installed; PostgreSQL in production,
    # e.g. postgresql+psycopg://user:password@host:5432/orientation
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    # Base URL of a BAN / Addok geocoder (https://api-adresse.data.gouv.fr or a self-hosted
    # Addok). Unset: addresses are located offline, at the commune's centroid.
    ban_url: str | None = None
    ban_timeout_seconds: float = 3.0
    # Below this BAN score a match is too doubtful to trust; we fall back to the commune.
    ban_min_score: float = 0.5
    geocode_cache_days: int = 180
    # Bearer token for the administration endpoints until accounts exist (issue 3).
    # Unset: those endpoints are closed.
    admin_token: str | None = Field(default=None, repr=False)
    log_level: str = "INFO"
    # Public base URL of the service, used in links we hand out.
    public_url: str = "http://127.0.0.1:8000"


@cache
def get_settings() -> Settings:
    return Settings()

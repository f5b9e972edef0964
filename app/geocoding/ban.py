"""Client for the BAN search API (api-adresse) or a self-hosted Addok: same API, GeoJSON."""

import logging
from typing import Any

import httpx

from app.geocoding.base import GeocoderUnavailable, Location

logger = logging.getLogger(__name__)

_PRECISIONS = {"housenumber", "street", "locality", "municipality"}


class BanGeocoder:
    name = "ban"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 3.0,
        min_score: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.min_score = min_score
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": "orientation-cpts"},
        )

    def close(self) -> None:
        self._client.close()

    def geocode(self, address: str, postcode: str, city: str | None, session: object = None) -> Location | None:
        query = " ".join(part for part in (address, postcode, city or "") if part).strip()
        # The postcode filter keeps the BAN from answering with a same-named street elsewhere.
        payload = self._search({"q": query, "postcode": postcode, "limit": 5})
        return self._best(payload, postcode)

    def _search(self, params: dict[str, Any]) -> dict[str, Any]:
        last_error: Exception | None = None
        for _attempt in range(2):  # one retry: a lost packet should not cost an address
            try:
                response = self._client.get("/search/", params=params)
            except httpx.TransportError as exc:
                last_error = exc
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last_error = GeocoderUnavailable(f"BAN answered {response.status_code}")
                continue
            if response.status_code >= 400:
                # 400: a query the BAN refuses (too short, bad characters): nothing to find.
                return {"features": []}
            try:
                return response.json()
            except ValueError as exc:
                last_error = exc
                continue
        logger.warning("ban_unavailable", extra={"error_type": type(last_error).__name__})
        raise GeocoderUnavailable(str(type(last_error).__name__))

    def _best(self, payload: dict[str, Any], postcode: str) -> Location | None:
        for feature in payload.get("features") or []:
            props = feature.get("properties") or {}
            try:
                longitude, latitude = feature["geometry"]["coordinates"][:2]
                score = float(props.get("score", 0))
            except (KeyError, TypeError, ValueError):
                continue
            if score < self.min_score or props.get("postcode") != postcode:
                continue
            precision = props.get("type")
            if precision not in _PRECISIONS or not props.get("citycode"):
                continue
            return Location(
                insee_code=str(props["citycode"]),
                postcode=postcode,
                latitude=float(latitude),
                longitude=float(longitude),
                precision=precision,
                score=round(score, 4),
            )
        return None

"""A stand-in for the BAN geocoding API (api-adresse / Addok), served on loopback.

It answers `GET /search/?q=…&postcode=…` with GeoJSON shaped like the real API's, from the
addresses registered by a test, and can be told to fail or to be slow."""

import json
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).replace("-", " ").split())


@dataclass
class BanAddress:
    """One address the fake knows: matched when every word of `match` is in the query."""

    match: str
    label: str
    housenumber: str | None
    street: str
    postcode: str
    citycode: str
    city: str
    lon: float
    lat: float
    score: float = 0.95
    type: str = "housenumber"

    def feature(self) -> dict:
        properties = {
            "label": self.label,
            "score": self.score,
            "id": f"{self.citycode}_xxxx_{self.housenumber or '00000'}",
            "name": f"{self.housenumber} {self.street}" if self.housenumber else self.street,
            "postcode": self.postcode,
            "citycode": self.citycode,
            "x": 686000.0,
            "y": 7020000.0,
            "city": self.city,
            "context": "62, Pas-de-Calais, Hauts-de-France",
            "type": self.type,
            "importance": 0.6,
            "street": self.street,
        }
        if self.housenumber:
            properties["housenumber"] = self.housenumber
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "properties": properties,
        }


@dataclass
class FakeBan:
    addresses: list[BanAddress] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    fail_with: int | None = None  # answer this status to every request
    failures_left: int = 0  # ... or only to the next N requests
    delay: float = 0.0

    def __enter__(self) -> "FakeBan":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(params)
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.fail_with and (fake.failures_left > 0 or fake.failures_left == -1):
                    if fake.failures_left > 0:
                        fake.failures_left -= 1
                    self._send(fake.fail_with, {"code": fake.fail_with, "message": "error"})
                    return
                if url.path != "/search/":
                    self._send(404, {"code": 404, "message": "not found"})
                    return
                self._send(200, fake.answer(params))

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, status: int = 500, times: int = -1) -> None:
        self.fail_with, self.failures_left = status, times

    def answer(self, params: dict[str, str]) -> dict:
        query = _fold(params.get("q", ""))
        postcode = params.get("postcode")
        features = [
            a.feature()
            for a in self.addresses
            if all(word in query.split() for word in _fold(a.match).split())
            and (postcode is None or a.postcode == postcode)
        ]
        features.sort(key=lambda f: -f["properties"]["score"])
        limit = int(params.get("limit", 5))
        return {
            "type": "FeatureCollection",
            "version": "draft",
            "features": features[:limit],
            "attribution": "BAN",
            "licence": "ETALAB-2.0",
            "query": params.get("q", ""),
            "filters": {"postcode": postcode} if postcode else {},
            "limit": limit,
        }

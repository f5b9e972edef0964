"""The communes' boundaries, simplified, for the territory's map (data/boundaries.txt.gz, built
by scripts/build_boundaries.py, format described there).

Read lazily: nothing at start-up; a page asks for a CPTS's communes, the file is read once
through, only their lines are decoded, and the answer is kept for the next page (a CPTS's
communes rarely change). The rest of France is never held in memory."""

import gzip
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

SCALE = 10_000  # as the build script: 1e-4 degree

# A ring: [(latitude, longitude), …]; a polygon: its outer ring then its holes.
Ring = list[tuple[float, float]]
Polygon = list[Ring]


def _decode_ring(text: str) -> Ring:
    numbers = [int(n) for n in text.split(",")]
    x, y = numbers[0], numbers[1]
    ring = [(y / SCALE, x / SCALE)]
    for i in range(2, len(numbers) - 1, 2):
        x += numbers[i]
        y += numbers[i + 1]
        ring.append((y / SCALE, x / SCALE))
    return ring


def decode(text: str) -> list[Polygon]:
    """One line's geometry (after the tab) → its polygons, in (latitude, longitude)."""
    return [[_decode_ring(ring) for ring in polygon.split("|")] for polygon in text.split(";") if polygon]


def _read(codes: frozenset[str]) -> dict[str, list[Polygon]]:
    found: dict[str, list[Polygon]] = {}
    source = resources.files("app.territories") / "data" / "boundaries.txt.gz"
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            code, _, geometry = line.partition("\t")
            if code in codes:
                found[code] = decode(geometry.rstrip("\n"))
                if len(found) == len(codes):
                    break
    return found


@lru_cache(maxsize=16)
def _cached(codes: frozenset[str]) -> dict[str, list[Polygon]]:
    return _read(codes)


def boundaries_of(insee_codes: Iterable[str]) -> dict[str, list[Polygon]]:
    """INSEE code → its polygons, for these communes (a code the file lacks is left out)."""
    return _cached(frozenset(insee_codes))

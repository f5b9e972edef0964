"""Every French commune, offline and in memory: by INSEE code, by postcode, by name.

The table (``data/communes.csv.gz``, ~35,000 rows, built by ``scripts/build_communes.py``)
is read once per process. Every lookup is a dictionary hit; the commune picker's prefix
search bisects a sorted list of normalised names, so nothing ever scans the whole table."""

import gc
import gzip
import heapq
import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import islice
from operator import attrgetter


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str  # "62041", "2A004", "75101"
    name: str  # "Arras"
    department: str  # "62", "2A", "971"
    population: int
    latitude: float | None
    longitude: float | None
    postcodes: tuple[str, ...]
    parent_insee: str | None  # an arrondissement's city: 75056 / 69123 / 13055
    aliases: tuple[str, ...]  # names of former (delegated / associated) communes merged into it


# --- Names -------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Ways of writing the same word in commune names: "St-Laurent", "Tilloy-lez-Mofflaines".
# Articles ("l", "le", "la", "les") are kept: "Le Havre" is not "Havre".
_WORDS = {"st": "saint", "ste": "sainte", "lez": "les"}


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _to_ascii_table() -> dict[int, str]:
    """One str.translate pass doing what the slow path does character by character: every
    ASCII character but [a-z0-9] becomes a space, Latin letters lose their diacritics.
    Several times faster, and the table is normalised ~40,000 times at load."""
    # Every ASCII character is listed, even those kept as they are: a character missing
    # from the table costs a KeyError inside str.translate, and when every ASCII character
    # maps to one ASCII character, ASCII text takes CPython's cached fast path.
    table = {cp: " " if _SEPARATORS.fullmatch(chr(cp)) else chr(cp) for cp in range(128)}
    for cp in range(0xC0, 0x250):
        plain = _strip_accents(chr(cp))
        if plain.isascii():  # anything else ("ø", "ß") is left to the slow path
            table[cp] = _SEPARATORS.sub(" ", plain)
    return table | {ord("œ"): "oe", ord("æ"): "ae", ord("’"): " "}


_TO_ASCII = _to_ascii_table()


def normalize_name(text: str) -> str:
    """Case, accents, ligatures, punctuation and the St/Ste/lez spellings do not matter:
    "St-Laurent-Blangy" == "saint laurent blangy", "Rœux" == "roeux"."""
    text = text.lower().translate(_TO_ASCII)
    if text.isascii():  # the usual case: only [a-z0-9 ] is left
        words = text.split()
    else:
        words = [word for word in _SEPARATORS.split(_strip_accents(text)) if word]
    text = " ".join(words)
    if "st" in text or "lez" in text:  # cheap pre-check: most names have none of them
        text = " ".join([_WORDS.get(word, word) for word in words])
    return text


# --- Index -------------------------------------------------------------------------------


class CommuneIndex:
    def __init__(self, communes: Iterable[Commune]) -> None:
        # Most populated first (a stable sort: ties keep the table's order), so that lists
        # filled in this order need no sort by population afterwards.
        self._ranked = sorted(communes, key=attrgetter("population"), reverse=True)
        self._by_insee = {c.insee: c for c in self._ranked}
        self._by_name: dict[str, list[Commune]] = defaultdict(list)  # names and former names
        self._arrondissements: dict[str, list[Commune]] = defaultdict(list)  # by city
        # Prefix search: (normalised text, order) where order = kind × n + population rank,
        # kind 0 = the name starts with it, 1 = a former commune's name does, 2 = a later
        # word of the name does ("mofflaines" finds Tilloy-lès-Mofflaines).
        texts = [normalize_name(c.name) for c in self._ranked]
        n = len(texts)
        orders = list(range(n))
        for rank, (name, commune) in enumerate(zip(texts[:n], self._ranked, strict=True)):
            self._by_name[name].append(commune)
            if commune.parent_insee:
                self._arrondissements[commune.parent_insee].append(commune)
            if commune.aliases:  # 1 commune in 40
                for alias in {normalize_name(a) for a in commune.aliases} - {name}:
                    self._by_name[alias].append(commune)
                    texts.append(alias)
                    orders.append(n + rank)
            space = name.find(" ")
            while space != -1:
                texts.append(name[space + 1 :])
                orders.append(2 * n + rank)
                space = name.find(" ", space + 1)
        # Sorting positions by text compares plain strings, much faster than sorting tuples.
        positions = sorted(range(len(texts)), key=texts.__getitem__)
        self._prefix_texts = [texts[i] for i in positions]
        self._prefix_orders = [orders[i] for i in positions]
        # Postcodes: communes in name order (positions < n are the names, already sorted).
        # Paris, Lyon and Marseille are served through their arrondissements' codes, which
        # the BAN answers with; listing the city too would make each such postcode ambiguous.
        by_postcode: dict[str, list[Commune]] = defaultdict(list)
        for position in positions:
            if position < n:
                commune = self._ranked[position]
                if commune.insee not in self._arrondissements:
                    for postcode in commune.postcodes:
                        by_postcode[postcode].append(commune)
        self._by_postcode = dict(by_postcode)
        self._postcodes = sorted(by_postcode)
        # Plain dicts from here on: a lookup must never add an empty entry.
        self._by_name, self._arrondissements = dict(self._by_name), dict(self._arrondissements)

    @classmethod
    def from_packaged_file(cls) -> "CommuneIndex":
        raw = (resources.files("app.territories") / "data" / "communes.csv.gz").read_bytes()
        # Loading allocates ~400,000 objects and no reference cycle: left on, the cyclic
        # garbage collector would walk the growing heap again and again (~15% of the load).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return cls(_read_table(gzip.decompress(raw).decode("utf-8")))
        finally:
            if collecting:
                gc.enable()

    def __len__(self) -> int:
        return len(self._by_insee)

    def get(self, insee: str) -> Commune | None:
        return self._by_insee.get(insee.strip().upper())

    def by_postcode(self, postcode: str) -> list[Commune]:
        """Every commune this postcode serves, by name; [] for an unknown postcode."""
        return list(self._by_postcode.get(postcode.strip(), ()))

    def match(self, postcode: str, name: str) -> list[Commune]:
        """The communes of this postcode answering to this name (their own, a former
        commune's, or for an arrondissement its city's). Usually one; none when the name is
        not served by this postcode."""
        postcode, found = postcode.strip(), []
        for commune in self._by_name.get(normalize_name(name), ()):
            if postcode in commune.postcodes:
                # "Marseille" written with 13001: the arrondissement serving it, 13201.
                cut = self._arrondissements.get(commune.insee)
                found += [a for a in cut if postcode in a.postcodes] if cut else [commune]
        return sorted(found, key=attrgetter("name"))

    def find_by_name(self, name: str) -> list[Commune]:
        """Communes anywhere in France with this name (or former name), most populated first."""
        return list(self._by_name.get(normalize_name(name), ()))

    def search(self, query: str, limit: int = 20) -> list[Commune]:
        """For a picker: the start of a postcode, an INSEE code, or the start of a name (or of
        one of its words, or of a former commune's name). Names: exact ones first, then those
        starting so, then former names and later words; most populated first within each."""
        text = query.strip().upper()
        if limit <= 0 or not text:
            return []
        if text.isdigit() or (len(text) == 5 and text[:2] in ("2A", "2B") and text[2:].isdigit()):
            # Postcodes first: "13001" is typed for Marseille 1er far more often than as the
            # INSEE code of Aix-en-Provence, which still comes (last) when it exists.
            exact = self._by_insee.get(text)
            found = self._by_postcode_prefix(text, limit - 1 if exact else limit)
            return found if exact is None or exact in found else [*found, exact]
        wanted = normalize_name(text)
        if not wanted:
            return []
        by_insee = {c.insee: c for c in self._by_name.get(wanted, ())[:limit]}
        # Normalised texts hold only [a-z0-9 ], all of which sort before "{".
        start = bisect_left(self._prefix_texts, wanted)
        stop = bisect_left(self._prefix_texts, wanted + "{", lo=start)
        for commune in self._best_first(self._prefix_orders[start:stop], limit):
            if len(by_insee) >= limit:
                break
            by_insee.setdefault(commune.insee, commune)
        return list(by_insee.values())

    def _best_first(self, orders: list[int], limit: int) -> Iterator[Commune]:
        """The communes of these prefix entries, best first. A commune may hold several
        entries (its name, a former name, later words), so the best 3 × limit entries nearly
        always give enough communes: the full sort, 3× slower, is only the fallback."""
        n = len(self._ranked)
        best = heapq.nsmallest(3 * limit, orders)
        yield from (self._ranked[order % n] for order in best)
        if len(best) < len(orders):
            yield from (self._ranked[order % n] for order in sorted(orders)[len(best) :])

    def _by_postcode_prefix(self, prefix: str, limit: int) -> list[Commune]:
        """Communes of the postcodes starting so, by postcode then name."""
        found: dict[str, Commune] = {}  # a commune may have several of these postcodes
        if prefix.isdigit() and len(prefix) <= 5:
            for postcode in islice(self._postcodes, bisect_left(self._postcodes, prefix), None):
                if len(found) >= limit or not postcode.startswith(prefix):
                    break
                found.update((c.insee, c) for c in self._by_postcode[postcode] if c.insee not in found)
        return list(found.values())[:limit]


_HEADER = "insee;name;department;population;lat;lon;postcodes;parent;aliases"


def _read_table(text: str) -> Iterator[Commune]:
    lines = text.splitlines()
    # The builder guarantees no value needs CSV quoting, so plain splitting reads the file
    # exactly as the csv module would, in a third of the time.
    if not lines or lines[0] != _HEADER or '"' in text:
        raise ValueError("communes.csv.gz: unexpected format; rebuild it with scripts/build_communes.py")
    for line in islice(lines, 1, None):
        insee, name, department, population, lat, lon, postcodes, parent, aliases = line.split(";")
        yield Commune(  # positional: keyword arguments cost ~30 ms over the whole table
            insee,
            name,
            department,
            int(population or 0),
            float(lat) if lat else None,
            float(lon) if lon else None,
            tuple(postcodes.split("|")) if postcodes else (),
            parent or None,
            tuple(aliases.split("|")) if aliases else (),
        )


@cache
def get_commune_index() -> CommuneIndex:
    """The process-wide table, loaded on first use."""
    return CommuneIndex.from_packaged_file()

"""Every French commune, offline and in memory: by INSEE code, by postcode, by name.

Names are INSEE's official ones, with their article ("Le Havre", "L'Herm"), and are found
with or without it: people write both.

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
    name: str  # official, with its article: "Arras", "Le Touquet-Paris-Plage", "L'Herm"
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
# Articles ("l", "le", "la", "les") are kept here: the index knows which names have one.
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


# The articles of official names, normalised (INSEE's TNCC: Le, La, Les, L', Aux, Las, Los).
_ARTICLES = frozenset({"le", "la", "les", "l", "aux", "las", "los"})
# Words too common to pick a commune by: "Saint" alone is not "Saint-Omer".
_TOO_VAGUE = _ARTICLES | {"saint", "sainte"}


_OFFICIAL_ARTICLE = re.compile(r"(?:Le|La|Les|Aux|Las|Los) |L['’]")


def name_without_article(name: str) -> str | None:
    """ "Touquet-Paris-Plage" for "Le Touquet-Paris-Plage", as INSEE's table without
    articles writes it; None for a name without an article."""
    found = _OFFICIAL_ARTICLE.match(name)
    return name[found.end() :] if found else None


def _without_article(name: str, normalized: str) -> str | None:
    """ "touquet paris plage" for "Le Touquet-Paris-Plage" (normalised: "le touquet paris
    plage"): the name as many people write it, and as INSEE's table without articles does.
    None for a name without an article. Decided on the official spelling, so that
    "Aux-Aussat" keeps its "Aux"."""
    # Every article starts with "L" or "A": most names are decided without the regex.
    if name[:1] in ("L", "A") and _OFFICIAL_ARTICLE.match(name):
        return normalized.partition(" ")[2] or None
    return None


# --- Index -------------------------------------------------------------------------------


class CommuneIndex:
    def __init__(self, communes: Iterable[Commune]) -> None:
        # Most populated first (a stable sort: ties keep the table's order), so that lists
        # filled in this order need no sort by population afterwards.
        self._ranked = sorted(communes, key=attrgetter("population"), reverse=True)
        self._by_insee = {c.insee: c for c in self._ranked}
        self._by_name: dict[str, list[Commune]] = defaultdict(list)  # names and former names
        self._by_bare_name: dict[str, list[Commune]] = defaultdict(list)  # the same, without article
        self._arrondissements: dict[str, list[Commune]] = defaultdict(list)  # by city
        # Prefix search: (normalised text, order) where order = kind × n + population rank,
        # kind 0 = the name starts with it, 1 = a former commune's name does, 2 = a later
        # word of the name does ("mofflaines" finds Tilloy-lès-Mofflaines). A name without
        # its article is the name: "touquet" finds Le Touquet-Paris-Plage as "le touquet" does.
        texts = [normalize_name(c.name) for c in self._ranked]
        n = len(texts)
        orders = list(range(n))
        for rank, (name, commune) in enumerate(zip(texts[:n], self._ranked, strict=True)):
            self._by_name[name].append(commune)
            bare = _without_article(commune.name, name)  # 1 commune in 16
            if commune.parent_insee:
                self._arrondissements[commune.parent_insee].append(commune)
            if commune.aliases:  # 1 commune in 40
                for text, names in self._former_names(commune, name, bare):
                    names[text].append(commune)
                    texts.append(text)
                    orders.append(n + rank)
            space = name.find(" ")
            if bare:  # the words after the article: the name itself, not a later word
                self._by_bare_name[bare].append(commune)
                texts.append(bare)
                orders.append(rank)
                space = name.find(" ", space + 1)
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
        self._by_bare_name = dict(self._by_bare_name)
        # Every way of writing a commune, normalised, for the few communes a postcode serves
        # when no name matched exactly: filled on first use rather than adding to the load.
        # Concurrent fills write the same value.
        self._written: dict[str, tuple[str, ...]] = {}

    def _former_names(
        self, commune: Commune, name: str, bare: str | None
    ) -> Iterator[tuple[str, dict[str, list[Commune]]]]:
        """Its former communes' names (normalised) not already its own, each with the
        dictionary it goes in: with its article or without."""
        seen = {name, bare}
        for alias in commune.aliases:
            normalized = normalize_name(alias)
            for text, names in ((normalized, self._by_name), (_without_article(alias, normalized), self._by_bare_name)):
                if text and text not in seen:
                    seen.add(text)
                    yield text, names

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

    def __iter__(self) -> Iterator[Commune]:
        """Every commune (and arrondissement), most populated first."""
        return iter(self._ranked)

    def get(self, insee: str) -> Commune | None:
        return self._by_insee.get(insee.strip().upper())

    def by_postcode(self, postcode: str) -> list[Commune]:
        """Every commune this postcode serves, by name; [] for an unknown postcode."""
        return list(self._by_postcode.get(postcode.strip(), ()))

    def match(self, postcode: str, name: str) -> list[Commune]:
        """The communes of this postcode answering to this name (their own, a former
        commune's, or for an arrondissement its city's), with or without its article.
        Failing that, those whose name starts with these words ("Le Touquet" for Le
        Touquet-Paris-Plage). Usually one; none when the name is not served by this postcode."""
        postcode, wanted = postcode.strip(), normalize_name(name)
        found = (
            self._serving(postcode, self._by_name.get(wanted, ()))
            # "Touquet-Paris-Plage" for Le Touquet-Paris-Plage; only when no commune of this
            # postcode has that very name (were one called "Touquet-Paris-Plage", it would be it).
            or self._serving(postcode, self._by_bare_name.get(wanted, ()))
            or self._serving(postcode, self._starting_with(postcode, wanted))
        )
        return sorted(found, key=attrgetter("name"))

    def _serving(self, postcode: str, candidates: Iterable[Commune]) -> list[Commune]:
        found: list[Commune] = []
        for commune in candidates:
            if postcode in commune.postcodes:
                # "Marseille" written with 13001: the arrondissement serving it, 13201.
                cut = self._arrondissements.get(commune.insee)
                found += [a for a in cut if postcode in a.postcodes] if cut else [commune]
        return found

    def _starting_with(self, postcode: str, wanted: str) -> list[Commune]:
        """The communes of this postcode with a name (or former name, with or without its
        article) starting with these whole words. Only after an exact name failed: a few
        communes to normalise, never the table."""
        if all(word in _TOO_VAGUE for word in wanted.split()):  # "", "Le", "Saint"
            return []
        prefix = wanted + " "
        found = []
        for commune in self._by_postcode.get(postcode, ()):
            written = self._written.get(commune.insee)
            if written is None:
                written = self._written[commune.insee] = tuple(_written_names(commune))
            if any(text.startswith(prefix) for text in written):
                found.append(commune)
        return found

    def find_by_name(self, name: str) -> list[Commune]:
        """Communes anywhere in France with this name (or former name), with or without its
        article, most populated first."""
        return self._named(normalize_name(name))

    def _named(self, normalized: str) -> list[Commune]:
        named, bare = self._by_name.get(normalized, ()), self._by_bare_name.get(normalized)
        if not bare:  # nearly always: the list is already most populated first
            return list(named)
        found = {c.insee: c for c in (*named, *bare)}
        return sorted(found.values(), key=attrgetter("population"), reverse=True)

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
        by_insee = {c.insee: c for c in self._named(wanted)[:limit]}
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


def _written_names(commune: Commune) -> Iterator[str]:
    """Every normalised way of naming this commune the index knows."""
    for name in (commune.name, *commune.aliases):
        normalized = normalize_name(name)
        yield normalized
        bare = _without_article(name, normalized)
        if bare:
            yield bare


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

"""Reading the national directory's extraction (Annuaire Santé, `PS_LibreAcces_Personne_activite_*.txt`)
as a stream, one line at a time: what /work/shared/reference/annuaire-sante.md describes.

The national file is ~760 MB and ~2.1 million lines; a CPTS keeps a few hundred of them. So
nothing here holds more than one line of the file, plus the lines kept: the general
practitioners whose practice lies in one of the communes asked for. Columns are found by name
in the header (newer files add columns at the end). A line that cannot be read (a wrong number
of fields, bytes that are not UTF-8, a NUL byte, an RPPS without its key) is counted with its
number and why, never with its content: it names a person. No line stops the reading.

Plain text, gzip (`.gz`) and zip (`.zip`, as the ANS publishes it) are read the same way,
decompressed as they are read."""

import gzip
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, cast

from stdnum import luhn

from app.core.identifiers import normalize_phone
from app.territories.communes import Commune, CommuneIndex, normalize_name

# Field → the header's column, as the ANS names it.
COLUMNS = {
    "id_type": "Type d'identifiant PP",
    "rpps": "Identifiant PP",
    "civility": "Libellé civilité d'exercice",
    "family_name": "Nom d'exercice",
    "given_name": "Prénom d'exercice",
    "profession": "Code profession",
    "know_how_code": "Code savoir-faire",
    "know_how_label": "Libellé savoir-faire",
    "mode": "Code mode exercice",
    "company": "Raison sociale site",
    "sign": "Enseigne commerciale site",
    "place": "Complément point géographique (coord. structure)",
    "number": "Numéro Voie (coord. structure)",
    "repetition": "Indice répétition voie (coord. structure)",
    "street_type": "Libellé type de voie (coord. structure)",
    "street": "Libellé Voie (coord. structure)",
    "distribution": "Mention distribution (coord. structure)",
    "cedex": "Bureau cedex (coord. structure)",
    "postcode": "Code postal (coord. structure)",
    "insee": "Code commune (coord. structure)",
    "city": "Libellé commune (coord. structure)",
    "phone": "Téléphone (coord. structure)",
    "email": "Adresse e-mail (coord. structure)",
}
# Without these a line says nothing we can use: the file is not the expected extraction.
REQUIRED = (
    "id_type",
    "rpps",
    "family_name",
    "given_name",
    "profession",
    "know_how_code",
    "know_how_label",
    "postcode",
    "insee",
    "city",
)
PHYSICIAN = "10"  # Code profession: Médecin
RPPS_TYPE = "8"  # Type d'identifiant PP: 8 RPPS, 0 ADELI
# General practice in the know-how columns: the ordinal specialty SM53 ("Spécialiste en
# Médecine Générale"), and older qualifications (SM54 "Médecine générale", SM26 "Qualifié en
# Médecine générale"), whose labels all say it.
GENERAL_PRACTICE_CODES = frozenset({"SM53", "SM54", "SM26"})
GENERAL_PRACTICE_WORDS = "medecine generale"
MAX_LINE_BYTES = 64 * 1024  # a real line is ~400 bytes; past this it is not a line of the extraction
PROGRESS_EVERY = 100_000
MAX_PROBLEMS_KEPT = 1000  # line numbers kept for the report; the count goes on

NOT_AN_EXTRACTION = (
    "Fichier illisible : l'extraction de l'Annuaire Santé est attendue "
    "(PS_LibreAcces_Personne_activite_….txt, texte UTF-8 séparé par des « | », ou ce fichier en .zip ou .gz)."
)
_CEDEX = re.compile(r"^\s*(\d{5})\s+(.*?)(?:\s+CEDEX(?:\s+\d+)?)?\s*$", re.IGNORECASE)


class DirectoryFileRefused(ValueError):
    """The file as a whole is not an extraction we can read (its message is French, for the user)."""


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str  # French; never the line's content


@dataclass(frozen=True)
class PracticeLine:
    """One practice situation kept: a line of a GP practising in one of the communes asked for."""

    line: int
    territory_id: int
    rpps: str
    civility: str | None
    family_name: str
    given_name: str
    know_how_code: str | None
    know_how_label: str | None
    mode: str | None
    structure_name: str | None
    address: str
    postcode: str | None
    insee_code: str
    city: str
    phone: str | None
    email: str | None


@dataclass
class ReadingStats:
    lines_read: int = 0  # lines after the header (blank ones included)
    # Lines that could not be read at all, whoever they concern (every CPTS is told), and
    # lines of a CPTS's GP with an invalid RPPS (that CPTS only): counts, and the first
    # MAX_PROBLEMS_KEPT line numbers with why.
    unreadable: int = 0
    problems: list[Problem] = field(default_factory=list)
    unreadable_of: dict[int, int] = field(default_factory=dict)
    problems_of: dict[int, list[Problem]] = field(default_factory=dict)
    # Lines of the communes asked for, left aside and why (counts only): for the report.
    not_general_practice: int = 0
    not_rpps: int = 0

    def unreadable_line(self, line: int, reason: str, territory_id: int | None = None) -> None:
        if territory_id is None:
            self.unreadable += 1
            problems = self.problems
        else:
            self.unreadable_of[territory_id] = self.unreadable_of.get(territory_id, 0) + 1
            problems = self.problems_of.setdefault(territory_id, [])
        if len(problems) < MAX_PROBLEMS_KEPT:
            problems.append(Problem(line, reason))

    def unreadable_for(self, territory_id: int) -> tuple[int, list[Problem]]:
        """What a CPTS is told: the lines nobody could read, and its own GPs' unreadable lines."""
        own = self.problems_of.get(territory_id, [])
        merged = sorted([*self.problems, *own], key=lambda p: p.line)[:MAX_PROBLEMS_KEPT]
        return self.unreadable + self.unreadable_of.get(territory_id, 0), merged


# ---- Opening: plain, gzip or zip ----------------------------------------------------------------


def open_extraction(raw: IO[bytes]) -> IO[bytes]:
    """The extraction's bytes, decompressed as they are read when the file is a .gz or a .zip
    (told by its first bytes, not its name). `raw` must be seekable (a file, a spooled upload)."""
    magic = raw.read(4)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if magic == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(raw)
            names = [n for n in archive.namelist() if not n.endswith("/")]
        except (zipfile.BadZipFile, OSError, EOFError):
            raise DirectoryFileRefused(NOT_AN_EXTRACTION) from None
        wanted = [n for n in names if "personne_activite" in n.lower() and n.lower().endswith(".txt")]
        chosen = wanted or (names if len(names) == 1 else [])
        if len(chosen) != 1:
            raise DirectoryFileRefused(
                "Archive .zip : elle doit contenir un seul fichier PS_LibreAcces_Personne_activite_….txt."
            )
        return archive.open(chosen[0])
    return raw


def _raw_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """The file's lines, without their end; None for a line too long to be one of the
    extraction (its bytes are skipped, never held)."""
    while True:
        chunk = stream.readline(MAX_LINE_BYTES)
        if not chunk:
            return
        if chunk.endswith(b"\n"):
            yield chunk.rstrip(b"\r\n")
            continue
        if len(chunk) < MAX_LINE_BYTES:  # the last line, without its end
            yield chunk.rstrip(b"\r")
            return
        while chunk and not chunk.endswith(b"\n"):  # skip the rest of that "line"
            chunk = stream.readline(MAX_LINE_BYTES)
        yield None


# ---- Communes --------------------------------------------------------------------------------


class CommuneFilter:
    """Which communes the reading keeps, and the CPTS each belongs to. A line names its commune by
    INSEE code; when that is empty, by postcode and name (or its "Bureau cedex", "62000 ARRAS")."""

    def __init__(self, communes: CommuneIndex, territory_of: dict[str, int]) -> None:
        self.communes = communes
        self.territory_of = territory_of
        served = [c for c in (communes.get(code) for code in territory_of) if c is not None]
        self.postcodes = frozenset(p for c in served for p in c.postcodes)
        self.departments = frozenset(c.department for c in served)

    def commune_of(self, insee: str, postcode: str, city: str, cedex: str) -> Commune | None:
        """The commune of a practice, when it is one of those kept; None otherwise."""
        if insee:
            if insee not in self.territory_of:
                return None
            return self.communes.get(insee)
        parsed = _CEDEX.match(cedex) if cedex else None
        codes = [p for p in (postcode.strip(), parsed.group(1) if parsed else "") if p]
        names = [n for n in (city.strip(), parsed.group(2).strip() if parsed else "") if n]
        if not any(p in self.postcodes or p[:2] in self.departments for p in codes):
            return None  # the usual case for a national file: elsewhere in France
        for code in codes:
            if code not in self.postcodes:
                continue
            for name in names:
                found = self.communes.match(code, name)
                if len(found) == 1:
                    return self._kept(found[0])
            served = self.communes.by_postcode(code)
            if len(served) == 1:
                return self._kept(served[0])
        # A cedex postcode ("62008 ARRAS CEDEX") serves no commune: the name, in the department.
        for name in names:
            found = [c for c in self.communes.find_by_name(name) if any(p[:2] == c.department[:2] for p in codes)]
            if len(found) == 1:
                return self._kept(found[0])
        return None

    def _kept(self, commune: Commune) -> Commune | None:
        return commune if commune.insee in self.territory_of else None


# ---- Lines ---------------------------------------------------------------------------------------


def is_general_practice(code: str, label: str) -> bool:
    return code.strip().upper() in GENERAL_PRACTICE_CODES or GENERAL_PRACTICE_WORDS in normalize_name(label)


def valid_rpps(value: str) -> bool:
    return len(value) == 11 and value.isdigit() and luhn.is_valid(value)


def _address(get: dict[str, str]) -> str:
    repetition = get["repetition"].strip()
    number = " ".join(p for p in (get["number"].strip(), repetition.lower()) if p)
    street = " ".join(p for p in (number, get["street_type"].strip(), get["street"].strip()) if p)
    if not get["street"].strip():  # a hospital, a "lieu-dit": what the directory has instead
        street = " ".join(p for p in (street, get["place"].strip() or get["distribution"].strip()) if p)
    return street[:200]


def _phone(value: str) -> str | None:
    digits = value.strip()
    if not digits:
        return None
    try:
        return normalize_phone(digits)
    except ValueError:
        return digits[:20]


def _email(value: str) -> str | None:
    text = value.strip().lower()
    return text if "@" in text and len(text) <= 254 and " " not in text else None


def _optional(value: str, length: int) -> str | None:
    text = value.strip()
    return text[:length] if text else None


class ExtractionReader:
    """Reads the extraction's lines and yields the practices kept (`PracticeLine`), counting the
    others in `stats`. Iterate it once."""

    def __init__(
        self, stream: IO[bytes], communes: CommuneFilter, on_progress: Callable[[int], None] | None = None
    ) -> None:
        self.stream = stream
        self.communes = communes
        self.stats = ReadingStats()
        self.on_progress = on_progress

    def _header(self, lines: Iterator[bytes | None]) -> dict[str, int]:
        first = next(lines, None)
        if not first or b"\x00" in first:
            raise DirectoryFileRefused(NOT_AN_EXTRACTION)
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DirectoryFileRefused(NOT_AN_EXTRACTION) from None
        names = [normalize_name(name) for name in text.split("|")]
        self.width = len(names)
        # The header ends with "|" too: a line may lack that last, empty field and still be whole.
        self.trailing_empty = names[-1] == ""
        positions: dict[str, int] = {}
        for key, column in COLUMNS.items():
            wanted = normalize_name(column)
            if wanted in names:
                positions[key] = names.index(wanted)
        missing = [COLUMNS[key] for key in REQUIRED if key not in positions]
        if missing:
            if len(missing) == len(REQUIRED):
                raise DirectoryFileRefused(NOT_AN_EXTRACTION)
            raise DirectoryFileRefused(
                "Ce n'est pas l'extraction attendue : colonnes absentes de l'en-tête : " + ", ".join(missing) + "."
            )
        return positions

    def __iter__(self) -> Iterator[PracticeLine]:
        lines = _raw_lines(self.stream)
        positions = self._header(lines)
        width, short = self.width, self.width - 1 if self.trailing_empty else self.width
        profession_at, insee_at = positions["profession"], positions["insee"]
        postcode_at, city_at = positions["postcode"], positions["city"]
        cedex_at = positions.get("cedex")
        stats, communes, on_progress = self.stats, self.communes, self.on_progress
        number = 1
        for raw in lines:
            number += 1
            stats.lines_read += 1
            if on_progress is not None and not stats.lines_read % PROGRESS_EVERY:
                on_progress(stats.lines_read)
            if raw is None:
                stats.unreadable_line(number, "ligne trop longue")
                continue
            if not raw:
                continue
            if b"\x00" in raw:
                stats.unreadable_line(number, "caractère nul")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                stats.unreadable_line(number, "encodage invalide (UTF-8 attendu)")
                continue
            fields = text.split("|")
            if len(fields) != width and len(fields) != short:
                got = len(fields) - 1 if self.trailing_empty and text.endswith("|") else len(fields)
                stats.unreadable_line(number, f"{got} champs au lieu de {short}")
                continue
            if fields[profession_at] != PHYSICIAN:
                continue
            commune = communes.commune_of(
                fields[insee_at].strip(),
                fields[postcode_at],
                fields[city_at],
                fields[cedex_at] if cedex_at is not None else "",
            )
            if commune is None:
                continue
            kept = self._practice(number, fields, positions, commune)
            if kept is not None:
                yield kept

    def _practice(
        self, number: int, fields: list[str], positions: dict[str, int], commune: Commune
    ) -> PracticeLine | None:
        get = {key: fields[at] if at < len(fields) else "" for key, at in positions.items()}
        for key in COLUMNS:
            get.setdefault(key, "")
        if not is_general_practice(get["know_how_code"], get["know_how_label"]):
            self.stats.not_general_practice += 1
            return None
        if get["id_type"].strip() != RPPS_TYPE:
            self.stats.not_rpps += 1  # an ADELI number: not a doctor's identifier any more
            return None
        rpps = get["rpps"].strip()
        territory_id = self.communes.territory_of[commune.insee]
        if not valid_rpps(rpps):
            self.stats.unreadable_line(number, "numéro RPPS invalide (11 chiffres et leur clé attendus)", territory_id)
            return None
        family, given = get["family_name"].strip(), get["given_name"].strip()
        if not family:
            self.stats.unreadable_line(number, "nom d'exercice absent", territory_id)
            return None
        postcode = get["postcode"].strip()
        if not (len(postcode) == 5 and postcode.isdigit()):
            parsed = _CEDEX.match(get["cedex"]) if get["cedex"] else None
            postcode = parsed.group(1) if parsed else ""
        return PracticeLine(
            line=number,
            territory_id=territory_id,
            rpps=rpps,
            civility=_optional(get["civility"], 20),
            family_name=family[:100],
            given_name=given[:100],
            know_how_code=_optional(get["know_how_code"], 10),
            know_how_label=_optional(get["know_how_label"], 100),
            mode=_optional(get["mode"], 1),
            structure_name=_optional(get["sign"] or get["company"], 200),
            address=_address(get),
            postcode=postcode or None,
            insee_code=commune.insee,
            city=commune.name[:100],
            phone=_phone(get["phone"]),
            email=_email(get["email"]),
        )


def reader_for(
    raw: IO[bytes], communes: CommuneFilter, on_progress: Callable[[int], None] | None = None
) -> ExtractionReader:
    """A reader of this file (plain, .gz or .zip); DirectoryFileRefused when it is none of them.
    `on_progress(lines read)` is called every PROGRESS_EVERY lines."""
    return ExtractionReader(open_extraction(raw), communes, on_progress)

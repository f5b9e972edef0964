"""Importing the national directory into a CPTS (or every CPTS of the deployment): the rules.

1. The file is read to its end first (app.directory.importer), keeping in memory only the GPs'
   practices in the communes of the CPTS asked for: nothing is written while reading, so a file
   that turns out unreadable half-way (a truncated .zip) changes nothing.
2. The practitioners are upserted by (CPTS, RPPS), in batches of `BATCH` practitioners, each
   batch its own transaction: a big file holds no giant transaction. What the directory says
   of a practitioner is fingerprinted: the same fingerprint is "unchanged", and is not written
   nor geocoded again; a new or changed practice address is placed by the geocoder (its cache,
   the BAN when configured, else the commune's centroid).
3. Only then, in one last transaction with the import's report and its audit entry, the
   practitioners of the CPTS no longer in the file are removed ("gone"). An import that failed
   before that removed nobody.

A directory practitioner is never a volunteer: nothing here writes into `Doctor` (app.doctors),
whatever the directory says; the two meet on the RPPS only, for display."""

import hashlib
import json
import time
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.access import may_act_in
from app.accounts.policy import Action, ensure
from app.accounts.principal import Principal
from app.audit.service import record
from app.core.database import own_transaction, utcnow
from app.core.errors import Conflict, FieldError, NotFound, Unprocessable
from app.directory import repository
from app.directory.importer import (
    CommuneFilter,
    DirectoryFileRefused,
    PracticeLine,
    ReadingStats,
    reader_for,
)
from app.directory.models import DirectoryImport, DirectoryPractice, DirectoryPractitioner
from app.directory.schemas import DirectoryImportReport, UnreadableLine
from app.geocoding.service import GeocodingService, UndecidableCommune
from app.territories.models import Territory, TerritoryCommune

BATCH = 200  # practitioners per transaction
MAX_RPPS_KEPT = 1000  # RPPS numbers listed in a report, per kind
CONCURRENT_IMPORT = "Un autre import de l'annuaire est en cours pour cette CPTS : réessayez quand il sera fini."
BROKEN_ARCHIVE = "Fichier compressé illisible ou incomplet : téléchargez-le à nouveau."


def _refused(message: str) -> Unprocessable:
    return Unprocessable(message, fields=[FieldError(field="file", message=message)])


# ---- Which CPTS ------------------------------------------------------------------------------


def territories_to_import(session: Session, principal: Principal, slug: str | None) -> list[Territory]:
    """The CPTS named (the caller must work in it), or every CPTS of the deployment (the operator)."""
    ensure(principal, Action.IMPORT_DIRECTORY)
    query = select(Territory).order_by(Territory.slug)
    if slug is not None:
        query = query.where(Territory.slug == slug)
    territories = [t for t in session.scalars(query) if may_act_in(principal, t.id)]
    if slug is not None and not territories:
        raise NotFound(f"Aucune CPTS « {slug} ».")
    return territories


# ---- The import -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Practitioner:
    """What the directory says of one practitioner in one CPTS: its lines, merged."""

    rpps: str
    civility: str | None
    family_name: str
    given_name: str
    know_how_code: str | None
    know_how_label: str | None
    practices: tuple[PracticeLine, ...]

    @classmethod
    def of(cls, lines: list[PracticeLine]) -> "_Practitioner":
        first = lines[0]
        practices: dict[tuple, PracticeLine] = {}
        for line in lines:  # the same practice listed twice (one line per know-how): once
            practices.setdefault(_practice_key(line), line)
        ordered = sorted(practices.values(), key=_practice_key)
        return cls(
            first.rpps,
            first.civility,
            first.family_name,
            first.given_name,
            first.know_how_code,
            first.know_how_label,
            tuple(ordered),
        )

    def fingerprint(self) -> str:
        published = [
            self.civility,
            self.family_name,
            self.given_name,
            self.know_how_code,
            self.know_how_label,
            [[*_practice_key(p), p.mode, p.city, p.phone, p.email] for p in self.practices],
        ]
        return hashlib.sha256(json.dumps(published, ensure_ascii=False).encode()).hexdigest()


def _practice_key(line: PracticeLine) -> tuple[str, str, str, str]:
    return (line.insee_code, line.postcode or "", line.address, line.structure_name or "")


def _place_key(address: str, postcode: str | None, insee: str) -> tuple[str, str, str]:
    return (insee, postcode or "", address)


class _Locator:
    """Places practice addresses: the geocoder's cache, the BAN when configured (given up for the
    rest of the import once it could not be reached: each try costs its timeout), else the
    commune's centroid."""

    def __init__(self, geocoding: GeocodingService) -> None:
        self.geocoding = geocoding
        self.ban_reachable = geocoding.address_geocoder is not None

    def locate(self, session: Session, line: PracticeLine) -> tuple[float | None, float | None, str | None]:
        commune = self.geocoding.communes.get(line.insee_code)
        if commune is None:
            return None, None, None
        postcode = line.postcode if line.postcode in commune.postcodes else (commune.postcodes or ("",))[0]
        if self.ban_reachable and line.address:
            try:
                placement = self.geocoding.place(postcode, commune.name, line.address, session=session)
            except UndecidableCommune:
                placement = None
            if placement is not None:
                if placement.fallback_reason == "ban_unavailable":
                    self.ban_reachable = False
                point = placement.location
                if point is not None and placement.commune.insee == commune.insee:
                    return point.latitude, point.longitude, point.precision
        point = self.geocoding.offline.locate(commune, postcode)
        return (point.latitude, point.longitude, point.precision) if point else (None, None, None)


def import_directory(
    sessions: sessionmaker[Session],
    geocoding: GeocodingService,
    principal: Principal,
    raw: IO[bytes],
    file_name: str,
    *,
    territory: str | None = None,
    batch_size: int = BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> list[DirectoryImportReport]:
    """Imports the extraction `raw` (seekable: a file, an upload) into the CPTS `territory` (its
    slug), or into every CPTS of the deployment. One report per CPTS. Commits its own
    transactions (see the module's docstring). Raises Unprocessable (French) for a file that is
    not an extraction, before anything is written."""
    started, clock = utcnow(), time.perf_counter()
    with sessions() as session:
        territories = territories_to_import(session, principal, territory)
        territory_of = {
            code: territory_id
            for code, territory_id in session.execute(
                select(TerritoryCommune.insee_code, TerritoryCommune.territory_id).where(
                    TerritoryCommune.territory_id.in_([t.id for t in territories])
                )
            )
        }
        names = {t.id: t.name for t in territories}
    # 1. Read the whole file.
    lines: dict[int, dict[str, list[PracticeLine]]] = {t: defaultdict(list) for t in names}
    try:
        reader = reader_for(raw, CommuneFilter(geocoding.communes, territory_of), on_progress)
        for line in reader:
            lines[line.territory_id][line.rpps].append(line)
    except DirectoryFileRefused as exc:
        raise _refused(str(exc)) from None
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile):  # a truncated or corrupt .gz / .zip
        raise _refused(BROKEN_ARCHIVE) from None
    # 2 and 3, CPTS by CPTS.
    reports = []
    for territory_id, name in names.items():
        practitioners = [_Practitioner.of(found) for _, found in sorted(lines[territory_id].items())]
        try:
            report = _apply(
                sessions,
                geocoding,
                principal,
                territory_id,
                file_name,
                started,
                practitioners,
                reader.stats,
                batch_size,
            )
        except IntegrityError:  # another import of this CPTS added the same RPPS meanwhile
            raise Conflict(CONCURRENT_IMPORT) from None
        report.territory_name = name
        report.seconds = round(time.perf_counter() - clock, 1)
        reports.append(report)
    return reports


def _apply(
    sessions: sessionmaker[Session],
    geocoding: GeocodingService,
    principal: Principal,
    territory_id: int,
    file_name: str,
    started: datetime,
    practitioners: list[_Practitioner],
    stats: ReadingStats,
    batch_size: int,
) -> DirectoryImportReport:
    with own_transaction(sessions) as session:
        run = DirectoryImport(
            territory_id=territory_id, file_name=file_name[:200], started_at=started, lines_read=stats.lines_read
        )
        session.add(run)
        session.flush()
        run_id = run.id
        before = repository.rpps_in_territory(session, principal, territory_id)
    locator = _Locator(geocoding)
    added: list[str] = []
    changed: list[str] = []
    unchanged = 0
    seen = utcnow()
    for start in range(0, len(practitioners), batch_size):
        batch = practitioners[start : start + batch_size]
        with own_transaction(sessions) as session:
            existing = repository.practitioners_by_rpps(session, principal, territory_id, [p.rpps for p in batch])
            queries = [
                (line.address, line.postcode or "", line.city)
                for p in batch
                if p.rpps not in existing or existing[p.rpps].fingerprint != p.fingerprint()
                for line in p.practices
                if line.address
            ]
            with geocoding.prefetched(queries, session):
                for practitioner in batch:
                    current = existing.get(practitioner.rpps)
                    fingerprint = practitioner.fingerprint()
                    if current is None:
                        session.add(_new(session, locator, territory_id, practitioner, fingerprint, seen))
                        added.append(practitioner.rpps)
                    elif current.fingerprint != fingerprint:
                        _update(session, locator, current, practitioner, fingerprint, seen)
                        changed.append(practitioner.rpps)
                    else:
                        current.last_seen_at = seen
                        unchanged += 1
    kept = {p.rpps for p in practitioners}
    gone = sorted(rpps for rpps in before if rpps not in kept)
    with own_transaction(sessions) as session:
        repository.remove_practitioners(session, [before[rpps] for rpps in gone])
        run = repository.get_import(session, principal, run_id)
        run.added, run.changed, run.unchanged, run.gone = len(added), len(changed), unchanged, len(gone)
        run.unreadable, problems = stats.unreadable_for(territory_id)
        run.details = {
            "added_rpps": added[:MAX_RPPS_KEPT],
            "changed_rpps": changed[:MAX_RPPS_KEPT],
            "gone_rpps": gone[:MAX_RPPS_KEPT],
            "unreadable_lines": [{"line": p.line, "reason": p.reason} for p in problems],
            "practices": sum(len(p.practices) for p in practitioners),
            "volunteers": repository.volunteer_count(session, principal, territory_id, kept),
            "not_general_practice": stats.not_general_practice,
            "not_rpps": stats.not_rpps,
        }
        run.finished_at = utcnow()
        record(session, principal, "directory.import", "directory_import", run_id, territory_id)
        session.flush()
        return report_of(run)


def _new(
    session: Session,
    locator: _Locator,
    territory_id: int,
    practitioner: _Practitioner,
    fingerprint: str,
    seen: datetime,
) -> DirectoryPractitioner:
    row = DirectoryPractitioner(territory_id=territory_id, rpps=practitioner.rpps, first_seen_at=seen)
    _copy(session, locator, row, practitioner, fingerprint, seen, known={})
    return row


def _update(
    session: Session,
    locator: _Locator,
    row: DirectoryPractitioner,
    practitioner: _Practitioner,
    fingerprint: str,
    seen: datetime,
) -> None:
    # An address already placed keeps its point: it is not geocoded again.
    known = {
        _place_key(p.address, p.postcode, p.insee_code): (p.latitude, p.longitude, p.precision) for p in row.practices
    }
    _copy(session, locator, row, practitioner, fingerprint, seen, known)


def _copy(
    session: Session,
    locator: _Locator,
    row: DirectoryPractitioner,
    practitioner: _Practitioner,
    fingerprint: str,
    seen: datetime,
    known: dict[tuple[str, str, str], tuple[float | None, float | None, str | None]],
) -> None:
    row.civility = practitioner.civility
    row.family_name = practitioner.family_name
    row.given_name = practitioner.given_name
    row.know_how_code = practitioner.know_how_code
    row.know_how_label = practitioner.know_how_label
    row.fingerprint = fingerprint
    row.last_seen_at = seen
    practices = []
    for line in practitioner.practices:
        key = _place_key(line.address, line.postcode, line.insee_code)
        latitude, longitude, precision = known.get(key) or locator.locate(session, line)
        practices.append(
            DirectoryPractice(
                mode=line.mode,
                structure_name=line.structure_name,
                address=line.address,
                postcode=line.postcode,
                insee_code=line.insee_code,
                city=line.city,
                phone=line.phone,
                email=line.email,
                latitude=latitude,
                longitude=longitude,
                precision=precision,
            )
        )
    row.practices = practices


# ---- Reports --------------------------------------------------------------------------------


def report_of(run: DirectoryImport) -> DirectoryImportReport:
    details: dict[str, Any] = dict(run.details or {})
    report = DirectoryImportReport.model_validate(run)
    lists = {key: details.get(key) or [] for key in ("added_rpps", "changed_rpps", "gone_rpps", "unreadable_lines")}
    counts = {key: details.get(key) or 0 for key in ("practices", "volunteers", "not_general_practice", "not_rpps")}
    return report.model_copy(
        update={
            **lists,
            "unreadable_lines": [UnreadableLine.model_validate(item) for item in lists["unreadable_lines"]],
            **counts,
        }
    )


def recent_reports(
    session: Session, principal: Principal, territory_id: int, limit: int = 10
) -> list[DirectoryImportReport]:
    ensure(principal, Action.IMPORT_DIRECTORY)
    return [report_of(run) for run in repository.recent_imports(session, principal, territory_id, limit)]


def practitioners_with_volunteers(
    session: Session, principal: Principal, territory_id: int
) -> list[tuple[DirectoryPractitioner, int | None]]:
    """Every GP the directory lists in the CPTS, each with the id of the volunteer doctor of the
    same RPPS, or None: the one place the two meet (for display; neither changes the other)."""
    ensure(principal, Action.IMPORT_DIRECTORY)
    volunteers = repository.volunteer_ids_by_rpps(session, principal, territory_id)
    return [(p, volunteers.get(p.rpps)) for p in repository.practitioners_of(session, principal, territory_id)]


def practitioner_count(session: Session, principal: Principal, territory_id: int) -> int:
    return repository.practitioner_count(session, principal, territory_id)


def report_lines(report: DirectoryImportReport) -> list[str]:
    """The report in French, as the command prints it: counts and RPPS numbers, no names."""
    out = [
        f"{report.territory_name or report.territory_id} : {report.lines_read} lignes lues, "
        f"{report.practitioners} médecin(s) généraliste(s) ({report.practices} lieu(x) d'exercice, "
        f"{report.volunteers} volontaire(s)) : {report.added} ajouté(s), {report.changed} modifié(s), "
        f"{report.unchanged} inchangé(s), {report.gone} parti(s), {report.unreadable} ligne(s) illisible(s)"
        + (f" ({report.seconds} s)" if report.seconds is not None else "")
    ]
    for label, numbers in (
        ("ajoutés", report.added_rpps),
        ("modifiés", report.changed_rpps),
        ("partis", report.gone_rpps),
    ):
        if numbers:
            out.append(f"  RPPS {label} : " + ", ".join(numbers))
    for problem in report.unreadable_lines:
        out.append(f"  ligne {problem.line} : {problem.reason}")
    if report.unreadable > len(report.unreadable_lines):
        out.append(f"  … et {report.unreadable - len(report.unreadable_lines)} autres lignes illisibles")
    return out

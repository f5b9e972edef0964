"""CSV import of volunteer doctors: the spreadsheets CPTS already keep.

UTF-8 or Windows-1252, `;` or `,` separated, French headers (case and accents ignored).
Rows are upserted by RPPS (importing the same file twice changes nothing); a doctor with
several practices takes one row per practice. Nothing is written when a row is invalid,
unless `skip_invalid`: then the valid doctors are imported and the others reported."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from app.accounts.principal import Principal
from app.audit.service import record
from app.core import spreadsheet
from app.core.database import utcnow
from app.core.errors import ApiError, FieldError, Unprocessable, french_message
from app.doctors.models import Doctor, PracticeLocation
from app.doctors.professions import DOCTOR, PROFESSIONS
from app.doctors.schemas import DoctorCreate, ImportProblem, ImportReport
from app.doctors.service import locate_practice, territory_for
from app.doctors.specialties import SPECIALTIES
from app.geocoding.service import GeocodingService
from app.snp.repository import resync_sas_visibility  # a changed profession re-decides SAS visibility
from app.territories import repository as territories_repository
from app.territories.communes import CommuneIndex, normalize_name
from app.territories.models import Territory
from app.territories.residency import TerritoryMap

# Normalised French header → field. Several spellings are met in the wild.
HEADERS = {
    "rpps": "rpps",
    "n rpps": "rpps",
    "numero rpps": "rpps",
    "civilite": "civility",
    "nom": "family_name",
    "nom de famille": "family_name",
    "prenom": "given_name",
    "specialite": "specialty",
    "profession": "profession",
    "code profession": "profession",
    "email": "email",
    "e mail": "email",
    "courriel": "email",
    "mail": "email",
    "telephone": "phone",
    "tel": "phone",
    "adresse": "address",
    "adresse du cabinet": "address",
    "code postal": "postcode",
    "cp": "postcode",
    "commune": "city",
    "ville": "city",
    "telephone cabinet": "location_phone",
    "tel cabinet": "location_phone",
    "acces pmr": "wheelchair_accessible",
    "accessible pmr": "wheelchair_accessible",
    "accepte nouveaux patients": "accepting_new_patients",
    "accepte de nouveaux patients": "accepting_new_patients",
    "places": "capacity_remaining",
    "places disponibles": "capacity_remaining",
    "nombre de places": "capacity_remaining",
    "jusqu au": "available_until",
    "disponible jusqu au": "available_until",
    "prioritaires uniquement": "priority_only",
    "patients prioritaires uniquement": "priority_only",
    "visites a domicile": "home_visits",
    "rayon visites km": "home_visit_radius_km",
    "rayon des visites km": "home_visit_radius_km",
    "langues": "languages",
    "distance max km": "max_distance_km",
    "distance maximale km": "max_distance_km",
    "confirme le": "confirmed_at",
    "date de confirmation": "confirmed_at",
}
REQUIRED = ("rpps", "family_name", "given_name", "email", "address", "postcode", "city")
# How columns are named back to the user, in the report.
COLUMN_LABELS = {
    "rpps": "RPPS",
    "civility": "Civilité",
    "family_name": "Nom",
    "given_name": "Prénom",
    "profession": "Profession",
    "specialty": "Spécialité",
    "email": "E-mail",
    "phone": "Téléphone",
    "address": "Adresse",
    "postcode": "Code postal",
    "city": "Commune",
    "location_phone": "Téléphone cabinet",
    "wheelchair_accessible": "Accès PMR",
    "accepting_new_patients": "Accepte nouveaux patients",
    "capacity_remaining": "Places",
    "available_until": "Jusqu'au",
    "priority_only": "Prioritaires uniquement",
    "home_visits": "Visites à domicile",
    "home_visit_radius_km": "Rayon visites (km)",
    "languages": "Langues",
    "max_distance_km": "Distance max (km)",
    "confirmed_at": "Confirmé le",
}
_TRUE = {"oui", "o", "x", "1", "vrai", "yes", "y", "true"}
_FALSE = {"non", "n", "0", "faux", "no", "false", ""}
_CIVILITIES = {"dr": "DR", "docteur": "DR", "m": "M", "monsieur": "M", "mme": "MME", "madame": "MME"}
_SPECIALTY_BY_LABEL = {normalize_name(label): code for code, label in SPECIALTIES.items()}
_PROFESSION_BY_LABEL = {normalize_name(label): code for code, label in PROFESSIONS.items()}


class RowError(ValueError):
    pass


UNREADABLE_FILE = "Fichier illisible : un fichier CSV texte (UTF-8 ou Windows-1252) est attendu."
# Control characters no spreadsheet writes in a CSV (tab, CR and LF aside): a binary file.
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _unreadable() -> Unprocessable:
    return Unprocessable(UNREADABLE_FILE, fields=[FieldError(field="file", message=UNREADABLE_FILE)])


def decode(raw: bytes) -> str:
    """The file's text; a 422 in French when it is not a text file."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")  # what Excel writes on a French Windows
        except UnicodeDecodeError:
            raise _unreadable() from None
    if _BINARY.search(text):
        raise _unreadable()
    return text


def _bool(value: str, column: str) -> bool:
    text = normalize_name(value)
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(f"{COLUMN_LABELS[column]} : oui ou non attendu, pas « {value} ».")


def _date(value: str, column: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise RowError(f"{COLUMN_LABELS[column]} : date JJ/MM/AAAA attendue, pas « {value} ».")


def _int(value: str) -> str | None:
    return value.strip() or None


def _specialty(value: str) -> str | None:
    """The TRE_R38 code of a label or code; None when empty (a doctor's default, or no specialty)."""
    text = value.strip()
    return _SPECIALTY_BY_LABEL.get(normalize_name(text), text.upper()) if text else None


def _profession(value: str) -> str:
    """The RPPS code of a label ("Infirmier") or code ("60"); a doctor when empty."""
    text = value.strip()
    return _PROFESSION_BY_LABEL.get(normalize_name(text), text) if text else DOCTOR


@dataclass
class ParsedDoctor:
    line: int  # its first row, for the report
    data: DoctorCreate
    confirmed_at: date | None
    # A file without the profession column leaves each known practitioner's as it is.
    profession_given: bool = True


def _read_rows(text: str) -> tuple[list[str | None], list[tuple[int, dict[str, str]]]]:
    """The field of each column (None for a header not recognised), and the non-blank rows by line."""
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error:
        raise _unreadable() from None
    if not header:
        raise Unprocessable("Fichier vide.", fields=[FieldError(field="file", message="Fichier vide.")])
    columns = [HEADERS.get(normalize_name(h)) for h in header]
    missing = [COLUMN_LABELS[c] for c in REQUIRED if c not in columns]
    if missing:
        message = "Colonnes manquantes : " + ", ".join(missing) + "."
        raise Unprocessable(message, fields=[FieldError(field="file", message=message)])
    rows = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row = {c: v.strip() for c, v in zip(columns, values, strict=False) if c}
            rows.append((reader.line_num, row))
    except csv.Error:  # e.g. a quote left open at the end of the file
        raise _unreadable() from None
    return columns, rows


def _to_doctor(cpts: str, row: dict[str, str]) -> tuple[DoctorCreate, date | None]:
    def get(name: str) -> str:
        return row.get(name, "")

    home_visits = _bool(get("home_visits"), "home_visits")
    payload = {
        "cpts": cpts,
        "rpps": get("rpps"),
        "civility": _CIVILITIES.get(normalize_name(get("civility")), "DR"),
        "family_name": get("family_name"),
        "given_name": get("given_name"),
        "profession": _profession(get("profession")),
        "specialty": _specialty(get("specialty")),
        "email": get("email"),
        "phone": get("phone") or None,
        "locations": [
            {
                "address": get("address"),
                "postcode": get("postcode"),
                "city": get("city"),
                "phone": get("location_phone") or None,
                "wheelchair_accessible": _bool(get("wheelchair_accessible"), "wheelchair_accessible"),
            }
        ],
        "availability": {
            "accepting_new_patients": _bool(get("accepting_new_patients"), "accepting_new_patients"),
            "capacity_remaining": _int(get("capacity_remaining")) or 0,
            "available_until": _date(get("available_until"), "available_until"),
            "priority_only": _bool(get("priority_only"), "priority_only"),
            "home_visits": home_visits,
            "home_visit_radius_km": _int(get("home_visit_radius_km")) if home_visits else None,
            "languages": [p for p in get("languages").replace(";", ",").replace(" ", ",").split(",") if p],
            "max_distance_km": _int(get("max_distance_km")),
        },
    }
    return DoctorCreate.model_validate(payload), _date(get("confirmed_at"), "confirmed_at")


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).isdigit()]
        name = loc[-1] if loc else "ligne"
        name = "location_phone" if loc[:1] == ["locations"] and name == "phone" else name
        parts.append(f"{COLUMN_LABELS.get(name, name)} : {french_message(err)}")
    return " ; ".join(parts)


def import_doctors(
    session: Session,
    geocoding: GeocodingService,
    principal: Principal,
    cpts: str,
    raw: bytes,
    *,
    skip_invalid: bool = False,
) -> ImportReport:
    territory = territory_for(session, principal, cpts)
    _, rows = _read_rows(decode(raw))
    problems: list[ImportProblem] = []
    parsed: dict[str, ParsedDoctor] = {}
    for line, row in rows:
        try:
            data, confirmed = _to_doctor(cpts, row)
        except RowError as exc:
            problems.append(ImportProblem(line=line, rpps=row.get("rpps") or None, reason=str(exc)))
            continue
        except ValidationError as exc:
            problems.append(ImportProblem(line=line, rpps=row.get("rpps") or None, reason=_describe(exc)))
            continue
        if data.rpps in parsed:  # another practice of the same doctor
            parsed[data.rpps].data.locations.extend(data.locations)
        else:
            parsed[data.rpps] = ParsedDoctor(line, data, confirmed, "profession" in row)

    queries = [(loc.address, loc.postcode, loc.city) for p in parsed.values() for loc in p.data.locations]
    # In a savepoint: a refused file (problems, and not skip_invalid) leaves nothing behind,
    # not even the doctors _upsert changed in place, and the caller's transaction goes on.
    with session.begin_nested() as attempt:
        with geocoding.prefetched(queries, session):
            created, updated, unchanged = _upsert(session, geocoding, territory, parsed, problems)
        problems.sort(key=lambda p: p.line)
        if problems and not skip_invalid:
            attempt.rollback()
            return ImportReport(
                created=0, updated=0, unchanged=0, invalid=len(problems), written=False, problems=problems
            )
        session.add_all(created)
        session.flush()
        for action, doctors in (("doctor.import_create", created), ("doctor.import_update", updated)):
            for doctor in doctors:
                record(session, principal, action, "doctor", doctor.id, territory.id)
    return ImportReport(
        created=len(created),
        updated=len(updated),
        unchanged=unchanged,
        invalid=len(problems),
        written=True,
        problems=problems,
    )


def _upsert(
    session: Session,
    geocoding: GeocodingService,
    territory: Territory,
    parsed: dict[str, ParsedDoctor],
    problems: list[ImportProblem],
) -> tuple[list[Doctor], list[Doctor], int]:
    """New doctors (not yet added to the session), changed ones, and how many were the same."""
    existing = _existing(session, list(parsed))
    territories = TerritoryMap.whole(session)
    created: list[Doctor] = []
    updated: list[Doctor] = []
    unchanged = 0
    for rpps, item in parsed.items():
        doctor = existing.get(rpps)
        if doctor is not None and doctor.territory_id != territory.id:
            problems.append(ImportProblem(line=item.line, rpps=rpps, reason="RPPS déjà inscrit dans une autre CPTS."))
            continue
        try:
            locations = [
                locate_practice(session, geocoding, territory, loc, "adresse", territories)
                for loc in item.data.locations
            ]
        except ApiError as exc:
            problems.append(ImportProblem(line=item.line, rpps=rpps, reason=exc.message))
            continue
        before = doctor.profession if doctor is not None else None
        if doctor is None:
            created.append(_new_doctor(territory.id, item, locations))
        elif _apply(doctor, item, locations):
            updated.append(doctor)
            if doctor.profession != before:
                resync_sas_visibility(session, doctor.id, doctor.profession)
        else:
            unchanged += 1
    return created, updated, unchanged


def _existing(session: Session, rpps_list: list[str]) -> dict[str, Doctor]:
    found: dict[str, Doctor] = {}
    for start in range(0, len(rpps_list), 500):
        chunk = rpps_list[start : start + 500]
        found.update((d.rpps, d) for d in session.scalars(select(Doctor).where(Doctor.rpps.in_(chunk))))
    return found


def _identity(data: DoctorCreate) -> dict[str, object]:
    return {
        "civility": data.civility,
        "family_name": data.family_name,
        "given_name": data.given_name,
        "profession": data.profession,
        "specialty": data.specialty,
        "email": str(data.email),
        "phone": data.phone,
    }


def _new_doctor(territory_id: int, item: ParsedDoctor, locations: list[PracticeLocation]) -> Doctor:
    confirmed = _as_datetime(item.confirmed_at) or utcnow()
    return Doctor(
        territory_id=territory_id,
        rpps=item.data.rpps,
        locations=locations,
        confirmed_at=confirmed,
        **_identity(item.data),
        **item.data.availability.model_dump(),
    )


def _location_key(location: PracticeLocation) -> tuple[object, ...]:
    return (location.address, location.postcode, location.insee_code, location.phone, location.wheelchair_accessible)


def _apply(doctor: Doctor, item: ParsedDoctor, locations: list[PracticeLocation]) -> bool:
    """Copies the row onto the doctor; True if anything changed (then only is it touched)."""
    changed = False
    wanted = _identity(item.data) | item.data.availability.model_dump()
    if not item.profession_given and doctor.profession != DOCTOR:  # nor its (empty) specialty
        del wanted["profession"], wanted["specialty"]
    for name, value in wanted.items():
        if getattr(doctor, name) != value:
            setattr(doctor, name, value)
            changed = True
    if [_location_key(loc) for loc in doctor.locations] != [_location_key(loc) for loc in locations]:
        doctor.locations = locations
        changed = True
    confirmed = _as_datetime(item.confirmed_at)
    if confirmed is not None and doctor.confirmed_at != confirmed:
        doctor.confirmed_at = confirmed
        changed = True
    if changed:
        doctor.updated_at = utcnow()
    return changed


def _as_datetime(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC) if day else None


def template_csv(session: Session, principal: Principal, cpts: str, communes: CommuneIndex) -> bytes:
    """The file to fill in: every column this importer reads, under the header it expects, and
    one example row it accepts for this CPTS (a practice in its most populous commune). UTF-8
    with a BOM and `;`: what Excel opens with its accents right, and what `decode` reads."""
    territory = territory_for(session, principal, cpts)
    codes = territories_repository.commune_codes(session, territory.id)
    served = [c for c in (communes.get(code) for code in codes) if c]
    where = max(served, key=lambda c: c.population, default=None)
    body = f"19{territory.id:08d}"  # fictional (real RPPS numbers start with 10), valid key
    example = {
        "rpps": body + luhn.calc_check_digit(body),
        "civility": "Dr",
        "family_name": "Exemple",
        "given_name": "Camille",
        "profession": PROFESSIONS[DOCTOR],
        "specialty": SPECIALTIES["SM54"],
        "email": "camille.exemple@example.fr",
        "phone": "",
        "address": "1 place de la Mairie",
        "postcode": where.postcodes[0] if where and where.postcodes else "",
        "city": where.name if where else "",
        "location_phone": "",
        "wheelchair_accessible": "oui",
        "accepting_new_patients": "oui",
        "capacity_remaining": "5",
        "available_until": "",
        "priority_only": "non",
        "home_visits": "non",
        "home_visit_radius_km": "",
        "languages": "fr, en",
        "max_distance_km": "",
        "confirmed_at": "",
    }
    return spreadsheet.to_csv(list(COLUMN_LABELS.values()), [[example[c] for c in COLUMN_LABELS]])

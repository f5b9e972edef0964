"""Reading the INT_R04 search parameters. A search that cannot be answered at all (no window,
no practitioner, more than 25, another status, an include we do not serve) is a 400
OperationOutcome naming the parameter; a practitioner identifier we cannot read matches nothing."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from starlette.datastructures import QueryParams

from app.fhir import profiles as p
from app.fhir.outcome import FhirError
from app.snp.rules import PARIS

ACTOR_PARAMETER = "schedule.actor:Practitioner.identifier"
MAX_WINDOW = timedelta(days=31)
KNOWN_INCLUDES = {"Slot:schedule", "Slot:service-type-reference"}
KNOWN_ITERATES = {"Schedule:actor", "HealthcareService:organization"}
_RPPS = re.compile(r"^8(\d{11})$")


@dataclass(frozen=True)
class SlotSearch:
    start: datetime
    end: datetime
    rpps: list[str]
    include: list[str]
    iterate: list[str]


def _invalid(parameter: str, message: str, code: str = "invalid") -> FhirError:
    return FhirError(400, code, f"{parameter} : {message}", parameter)


def parse_date(value: str, parameter: str = "start") -> datetime:
    """A FHIR dateTime with its offset (a '+' turned into a space by an unencoded URL is
    forgiven), or a date, read as Paris midnight."""
    text = value.strip()
    text = re.sub(r" (\d{2}:\d{2})$", r"+\1", text)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=PARIS).astimezone(UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(parameter, f"date invalide « {value} » (attendu AAAA-MM-JJThh:mm:ss+hh:mm)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PARIS)
    return parsed.astimezone(UTC)


def _window(values: list[str]) -> tuple[datetime, datetime]:
    bounds: dict[str, datetime] = {}
    for value in values:
        prefix, rest = value[:2], value[2:]
        if prefix not in ("ge", "le", "gt", "lt") or not rest:
            raise _invalid("start", f"« {value} » : préfixe ge ou le attendu")
        bound = "ge" if prefix in ("ge", "gt") else "le"
        if bound in bounds:
            raise _invalid("start", f"deux bornes « {bound} »")
        bounds[bound] = parse_date(rest)
    for bound in ("ge", "le"):
        if bound not in bounds:
            raise _invalid("start", f"la borne start={bound}… est obligatoire", "required")
    if bounds["le"] < bounds["ge"]:
        raise _invalid("start", "la borne le précède la borne ge")
    if bounds["le"] - bounds["ge"] > MAX_WINDOW:
        raise _invalid("start", f"période de plus de {MAX_WINDOW.days} jours")
    return bounds["ge"], bounds["le"]


def _practitioners(values: list[str]) -> list[str]:
    tokens = [t.strip() for value in values for t in value.split(",") if t.strip()]
    if not tokens:
        raise _invalid(ACTOR_PARAMETER, "au moins un identifiant de professionnel est obligatoire", "required")
    if len(tokens) > p.MAX_PRACTITIONERS:
        raise _invalid(ACTOR_PARAMETER, f"{len(tokens)} professionnels : {p.MAX_PRACTITIONERS} au plus")
    # A practitioner identifier we cannot read (another system, not 8+RPPS, an ADELI number)
    # names none of our doctors: it matches nothing, and the others are still answered.
    rpps = []
    for token in tokens:
        system, bar, value = token.rpartition("|")
        if bar and system and system != p.NATIONAL_PS:
            continue
        if match := _RPPS.match(value):
            rpps.append(match.group(1))
    return rpps


def parse_slot_search(params: QueryParams) -> SlotSearch:
    start, end = _window(params.getlist("start"))
    rpps = _practitioners(params.getlist(ACTOR_PARAMETER))
    statuses = params.getlist("status")
    if not statuses:
        raise _invalid("status", "le paramètre status=free est obligatoire", "required")
    if any(s != "free" for value in statuses for s in value.split(",")):
        raise _invalid("status", "seuls les créneaux libres (free) sont servis", "not-supported")
    include, iterate = params.getlist("_include"), params.getlist("_include:iterate")
    for value in include:
        if value not in KNOWN_INCLUDES:
            raise _invalid("_include", f"« {value} » non pris en charge", "not-supported")
    for value in iterate:
        if value not in KNOWN_ITERATES:
            raise _invalid("_include:iterate", f"« {value} » non pris en charge", "not-supported")
    return SlotSearch(start, end, rpps, include, iterate)

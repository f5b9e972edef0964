"""The rules of unscheduled-care slots: which slots can be booked (as a Python test and as
the same SQL clause), which slots the SAS sees, and how a recurring pattern becomes slots in
Paris wall-clock time."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, and_, false

from app.doctors.models import Doctor
from app.doctors.professions import DOCTOR
from app.snp.models import AppointmentType, Slot, SlotStatus, Visibility

PARIS = ZoneInfo("Europe/Paris")
MAX_PATTERN_DAYS = 366
DEFAULT_SEARCH_HOURS = 48

# ---- Bookable -----------------------------------------------------------------------------
# A slot can be booked while it is free (never booked, or its booking cancelled), takes
# appointments (not walk-in) and has not started. Said twice, once for rows already read and
# once for queries, side by side so that they stay the same rule (tests hold them equal).

SLOT_TAKEN = "Ce créneau vient d'être réservé par quelqu'un d'autre."
WALK_IN = "Créneau sans rendez-vous : le patient se présente directement."
STARTED = "Ce créneau a déjà commencé."


def why_not_bookable(status: str, appointment_type: str, start_at: datetime, now: datetime) -> str | None:
    """Why a slot cannot be booked now, in French, or None when it can."""
    if appointment_type != AppointmentType.BOOKABLE:
        return WALK_IN
    if start_at <= now:
        return STARTED
    if status != SlotStatus.FREE:
        return SLOT_TAKEN
    return None


def is_bookable(status: str, appointment_type: str, start_at: datetime, now: datetime) -> bool:
    return why_not_bookable(status, appointment_type, start_at, now) is None


def bookable_clause(now: datetime) -> ColumnElement[bool]:
    """`is_bookable` as a WHERE clause on snp_slots."""
    return and_(
        Slot.status == SlotStatus.FREE.value,
        Slot.appointment_type == AppointmentType.BOOKABLE.value,
        Slot.start_at > now,
    )


# ---- Who sees a slot ----------------------------------------------------------------------

# A slot reserved to the CPTS itself (CPTS only) stays inside the CPTS: the SAS platform is
# served the slots its regulators may book — open to the public, to professionals or to SNP.
_SAS_TYPES = Visibility.PUBLIC | Visibility.PRO | Visibility.SNP

# …and only the doctors' (RPPS profession 10): the ANS guide's INT_R04 feed serves médecins. A
# nurse's, midwife's or physiotherapist's slot is offered to the CPTS's callers, never to the SAS,
# whatever its visibility says. The slot's practitioner is its doctor_id, or the one named to work
# a centre's slot; a centre's slot naming nobody counts as a doctor's (the SAS query leaves it out).
SAS_PROFESSIONS = frozenset({DOCTOR})


def sas_serves(profession: str) -> bool:
    """Whether the SAS feed may show this profession's practitioners and slots."""
    return profession in SAS_PROFESSIONS


def served_to_sas(visibility: int, profession: str) -> bool:
    """Stored in Slot.sas_visible: what a SAS regulator and the feed see."""
    return sas_serves(profession) and bool(Visibility(visibility) & _SAS_TYPES)


def sas_visible_value(profession: str) -> ColumnElement[bool]:
    """`served_to_sas` as an SQL value of a slot's columns, for slots rewritten in bulk when
    their practitioner's profession changes (same rule, side by side)."""
    if not sas_serves(profession):
        return false()
    return Slot.visibility.op("&", return_type=Integer)(int(_SAS_TYPES)) != 0


def sas_practitioner_clause() -> ColumnElement[bool]:
    """`sas_serves` as a WHERE clause on the doctors table: the feed's queries join it."""
    return Doctor.profession.in_(sorted(SAS_PROFESSIONS))


@cache
def _codes(visibility: int) -> tuple[str, ...]:
    return tuple(name for name, v in Visibility.__members__.items() if v & visibility)


def visibility_codes(visibility: int) -> list[str]:
    return list(_codes(visibility))


def visibility_from_codes(codes: Iterable[str]) -> int:
    value = Visibility(0)
    for code in codes:
        value |= Visibility[code]
    return int(value)


# ---- Patterns -----------------------------------------------------------------------------


def paris_to_utc(day: date, at: time) -> datetime | None:
    """The UTC instant of a Paris wall-clock time, or None when that time does not exist
    (the hour skipped when clocks go forward in March)."""
    local = datetime.combine(day, at, tzinfo=PARIS)
    instant = local.astimezone(UTC)
    if instant.astimezone(PARIS).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


@dataclass(frozen=True)
class PatternSpec:
    weekdays: list[int]  # ISO weekdays, 1 = Monday
    start_time: time
    end_time: time
    slot_minutes: int
    first_date: date
    last_date: date


def expand(pattern: PatternSpec) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of each slot of the pattern: back-to-back slots of slot_minutes
    from start_time until end_time, every chosen weekday, each in that day's Paris offset
    (so 16:00 stays 16:00 across daylight-saving changes)."""
    step = timedelta(minutes=pattern.slot_minutes)
    day = pattern.first_date
    while day <= pattern.last_date:
        if day.isoweekday() in pattern.weekdays:
            wall = datetime.combine(day, pattern.start_time)
            end_wall = datetime.combine(day, pattern.end_time)
            while wall + step <= end_wall:
                start = paris_to_utc(day, wall.time())
                end = paris_to_utc(day, (wall + step).time()) if (wall + step).date() == day else None
                if start is not None and end is not None and end > start:
                    yield start, end
                wall += step
        day += timedelta(days=1)

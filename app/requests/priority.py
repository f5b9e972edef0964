"""The priority rule of the médecin-traitant queue (project §3.1.1: ALD, 70 and over, CSS).

A request belongs to groups; its score is the sum of their weights, set per CPTS. The queue
orders by score, then by waiting time: the fragile first, then the oldest.

The rule is here once, for Python (`priority_of`) and for SQL (`score_expression`, the
queue's order), and both read the age from the birth date on the day the queue is read (Paris
date): a patient who turns 70 while waiting moves up that day, without any write. SQLite has no
age function, so the SQL compares the birth date with the day of the 70th birthday, computed
here (`born_70_years_ago`); tests/test_priority_rules.py proves both agree, 29 February included.

`aged_70_or_more`, stored at submission, is the age *at intake*: the ACI indicators count the
priority groups of the requests received in a period, as they were when received."""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, case, literal

from app.core.database import utcnow
from app.requests.models import PatientRequest
from app.territories.models import Territory

PARIS = ZoneInfo("Europe/Paris")
PRIORITY_AGE = 70

GROUP_LABELS = {
    "ald": "ALD (affection de longue durée)",
    "age_70": "70 ans ou plus",
    "css": "complémentaire santé solidaire ou AME",
}


@dataclass(frozen=True)
class Weights:
    ald: int = 1
    age_70: int = 1
    css: int = 1

    @classmethod
    def of(cls, territory: Territory | None) -> "Weights":
        if territory is None:
            return cls()
        return cls(territory.weight_ald, territory.weight_age_70, territory.weight_css)


@dataclass(frozen=True)
class Priority:
    groups: list[str]
    score: int
    explanation: str


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def day_in_paris(now: datetime | None = None) -> date:
    """The day the queue is read: birthdays change at midnight in Paris, not in UTC."""
    return (now or utcnow()).astimezone(PARIS).date()


def born_70_years_ago(today: date) -> date:
    """The latest birth date of someone aged 70 or more on `today`: born on or before it.
    Born on 29 February, one turns 70 on 1 March of a common year (as `age_on` counts)."""
    year = today.year - PRIORITY_AGE
    try:
        return today.replace(year=year)
    except ValueError:  # today is 29 February, and that year has none
        return date(year, 2, 28)


def is_70_or_more(birth_date: date, today: date) -> bool:
    return birth_date <= born_70_years_ago(today)


# CSS and AME, asked apart (yes | no | unknown each); the priority group "css" is either. A
# request older than the two questions has only `css_or_ame` (its "yes": one of them, unknown which).
ANSWERS = ("yes", "no", "unknown")


def css_or_ame_of(css: str, ame: str) -> str:
    """The one answer the priority rule reads, from the two: "yes" when either is, "no" when
    both are, "unknown" otherwise."""
    if "yes" in (css, ame):
        return "yes"
    if css == ame == "no":
        return "no"
    return "unknown"


def css_ame_split(css: str | None, ame: str | None, css_or_ame: str) -> list[str]:
    """Which of the ACI's CSS / AME figures a request counts in: "css_yes", "ame_yes", or, in the
    priority group without either said (a request older than the two questions),
    "css_or_ame_unknown_which"."""
    split = [name for name, answer in (("css_yes", css), ("ame_yes", ame)) if answer == "yes"]
    if not split and css_or_ame == "yes":
        split.append("css_or_ame_unknown_which")
    return split


def _groups(ald: bool, aged_70: bool, css_or_ame: str) -> list[str]:
    groups = []
    if ald:
        groups.append("ald")
    if aged_70:
        groups.append("age_70")
    if css_or_ame == "yes":
        groups.append("css")
    return groups


def groups_of(request: PatientRequest, today: date) -> list[str]:
    """The groups on `today`: the age follows the birth date."""
    return _groups(request.ald, is_70_or_more(request.birth_date, today), request.css_or_ame)


def groups_at_intake(request) -> list[str]:
    """The groups the request was received in (the indicators): `request` is a request or a row
    with `ald`, `aged_70_or_more` and `css_or_ame`."""
    return _groups(request.ald, request.aged_70_or_more, request.css_or_ame)


def priority_of(request: PatientRequest, weights: Weights, today: date) -> Priority:
    groups = groups_of(request, today)
    score = sum(getattr(weights, g) for g in groups)
    if groups:
        explanation = "Prioritaire : " + ", ".join(GROUP_LABELS[g] for g in groups) + "."
    else:
        explanation = "Pas de critère de priorité : ordre d'arrivée."
    return Priority(groups=groups, score=score, explanation=explanation)


def score_expression(today: date) -> ColumnElement[int]:
    """`priority_of`'s score in SQL, for ordering the queue in the database (joined on Territory)."""
    return (
        case((PatientRequest.ald.is_(True), Territory.weight_ald), else_=literal(0))
        + case(
            (PatientRequest.birth_date <= literal(born_70_years_ago(today), Date), Territory.weight_age_70),
            else_=literal(0),
        )
        + case((PatientRequest.css_or_ame == "yes", Territory.weight_css), else_=literal(0))
    )

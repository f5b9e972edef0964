"""The priority rule of the médecin-traitant queue (project §3.1.1: ALD, 70 and over, CSS).

A request holds the groups it belongs to; its score is the sum of their weights, set per
CPTS. The queue orders by score, then by waiting time: the fragile first, then the oldest."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, case, literal

from app.requests.models import PatientRequest
from app.territories.models import Territory

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


def groups_of(request: PatientRequest) -> list[str]:
    groups = []
    if request.ald:
        groups.append("ald")
    if request.aged_70_or_more:
        groups.append("age_70")
    if request.css_or_ame == "yes":
        groups.append("css")
    return groups


def priority_of(request: PatientRequest, weights: Weights) -> Priority:
    groups = groups_of(request)
    score = sum(getattr(weights, g) for g in groups)
    if groups:
        explanation = "Prioritaire : " + ", ".join(GROUP_LABELS[g] for g in groups) + "."
    else:
        explanation = "Pas de critère de priorité : ordre d'arrivée."
    return Priority(groups=groups, score=score, explanation=explanation)


def score_expression() -> ColumnElement[int]:
    """The same score in SQL, for ordering the queue in the database (joined on Territory)."""
    return (
        case((PatientRequest.ald.is_(True), Territory.weight_ald), else_=literal(0))
        + case((PatientRequest.aged_70_or_more.is_(True), Territory.weight_age_70), else_=literal(0))
        + case((PatientRequest.css_or_ame == "yes", Territory.weight_css), else_=literal(0))
    )

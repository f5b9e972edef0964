"""Coverage per commune: the one rule that says where the coordination should recruit.

For each commune of the CPTS:
- GPs: the general practitioners practising there (the national directory's, and the volunteers,
  one per RPPS; a GP with practices in two communes counts in both);
- volunteer places: the places left of the volunteers who can take a new patient today (the
  doctors' own rule, app/doctors/repository.py's `accepting_clause`: accepting, places left,
  availability not over), counted in the commune of their first practice (once per doctor);
- both per 1,000 inhabitants (population municipale of the communes table);
- patients waiting: the open médecin-traitant requests of people living there, and their median
  wait in days (calendar days in Paris, as the queue counts them);
- need outruns places when more patients wait than volunteer places are left: those communes
  come first ("où recruter"), the largest shortfall first; then the others, the fewest GPs per
  1,000 inhabitants first."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from statistics import median


@dataclass(frozen=True)
class CommuneFacts:
    insee: str
    name: str
    population: int
    gps: int  # GPs practising there
    volunteers: int  # of whom volunteers
    places: int  # volunteer places left, counted here
    waiting_since: tuple[date, ...]  # the Paris day each open request was received


@dataclass(frozen=True)
class Coverage:
    insee: str
    name: str
    population: int
    gps: int
    volunteers: int
    places: int
    gps_per_1000: float | None  # None: no population known
    places_per_1000: float | None
    waiting: int
    median_wait_days: float | None  # None: nobody waiting
    shortfall: int  # patients waiting beyond the places left (0 when places suffice)

    @property
    def recruit_here(self) -> bool:
        """Need outruns places: more patients wait than volunteer places are left."""
        return self.shortfall > 0


def per_thousand(count: int, population: int) -> float | None:
    return round(count * 1000 / population, 2) if population > 0 else None


def commune_coverage(facts: CommuneFacts, today: date) -> Coverage:
    waits = [(today - day).days for day in facts.waiting_since]
    return Coverage(
        insee=facts.insee,
        name=facts.name,
        population=facts.population,
        gps=facts.gps,
        volunteers=facts.volunteers,
        places=facts.places,
        gps_per_1000=per_thousand(facts.gps, facts.population),
        places_per_1000=per_thousand(facts.places, facts.population),
        waiting=len(waits),
        median_wait_days=float(median(waits)) if waits else None,
        shortfall=max(0, len(waits) - facts.places),
    )


def coverage(communes: Iterable[CommuneFacts], today: date) -> list[Coverage]:
    """Every commune's coverage, where to recruit first (see the module's rule)."""
    rows = [commune_coverage(facts, today) for facts in communes]

    def order(row: Coverage) -> tuple:
        if row.recruit_here:
            return (0, -row.shortfall, row.name)
        density = row.gps_per_1000 if row.gps_per_1000 is not None else float("inf")
        return (1, density, row.name)

    return sorted(rows, key=order)


def places_by_commune(volunteers: Iterable[tuple[str | None, bool, int]]) -> Mapping[str, int]:
    """(first practice's INSEE code, accepting new patients, places left) → places per commune."""
    places: dict[str, int] = {}
    for insee, accepting, remaining in volunteers:
        if insee and accepting:
            places[insee] = places.get(insee, 0) + max(0, remaining)
    return places

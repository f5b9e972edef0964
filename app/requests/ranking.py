"""The ranking rule: which volunteer doctors to propose to a patient, in which order, and why.

Eligible: a doctor of the request's CPTS, active, accepting, with places left today, whose
constraints the patient meets (priority patients only; home visits within its radius when
the patient needs them; its maximum distance; a shared language when the patient gave some).
Ordered (ORDER_EXPLANATION says it to the coordinator, _order does it): first the doctors who
keep their places for priority patients (a priority patient takes one of those, leaving the
open places to the others), then by distance rounded to the kilometre (great-circle) plus
FAIRNESS_KM for each offer the doctor has pending or accepted in the last FAIRNESS_DAYS (its
load, app/requests/offers.py), then by places left, so that the same nearest doctor is not
always the one asked; then the exact distance. Doctors excluded only because their entry is
stale are listed apart: the coordinator can phone them."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from app.core.database import utcnow
from app.doctors.models import PracticeLocation
from app.doctors.repository import DoctorCard, PracticeCard
from app.geocoding.distance import great_circle_km
from app.requests.models import PatientRequest
from app.requests.priority import day_in_paris, groups_of

LANGUAGE_NAMES = {
    "fr": "français",
    "en": "anglais",
    "ar": "arabe",
    "es": "espagnol",
    "de": "allemand",
    "it": "italien",
    "pt": "portugais",
    "tr": "turc",
    "ru": "russe",
    "uk": "ukrainien",
    "ro": "roumain",
    "pl": "polonais",
    "zh": "chinois",
    "vi": "vietnamien",
}


@dataclass
class Suggestion:
    doctor: DoctorCard
    location: PracticeCard
    distance_km: float | None
    places_left: int
    reasons: list[str] = field(default_factory=list)
    load: int = 0  # offers pending or recently accepted (FAIRNESS_DAYS)


@dataclass
class Ranking:
    eligible: list[Suggestion]
    stale: list[Suggestion]
    considered: int


def distance_to(request: PatientRequest, location: PracticeCard | PracticeLocation) -> float | None:
    if request.latitude is None or request.longitude is None or location.latitude is None or location.longitude is None:
        return None
    return great_circle_km(request.latitude, request.longitude, location.latitude, location.longitude)


# Positions that are the address itself, not a commune's centre (app.geocoding precision).
PLACED = frozenset({"housenumber", "street", "locality"})


def placed_distance_to(request: PatientRequest, location: PracticeLocation) -> float | None:
    """The distance a patient may read: only when both the patient's and the practice's
    addresses were placed by the geocoder (a commune's centre says nothing about either)."""
    if request.precision not in PLACED or location.precision not in PLACED:
        return None
    return distance_to(request, location)


def _assess(request: PatientRequest, doctor: DoctorCard, today: date) -> Suggestion | None:
    """The doctor's best practice for this patient, or None when it does not qualify.
    The reasons are written later (_explain), for the doctors shown only."""
    if not (doctor.active and doctor.accepting_new_patients and doctor.capacity_remaining > 0):
        return None
    if doctor.available_until is not None and doctor.available_until < today:
        return None
    if doctor.priority_only and not groups_of(request, today):
        return None
    if request.languages and not _shared_languages(request, doctor):
        return None
    best: Suggestion | None = None
    for location in doctor.locations:
        distance = distance_to(request, location)
        if distance is not None:
            if doctor.max_distance_km is not None and distance > doctor.max_distance_km:
                continue
            if request.needs_home_visits and (
                not doctor.home_visits
                or (doctor.home_visit_radius_km is not None and distance > doctor.home_visit_radius_km)
            ):
                continue
        elif request.needs_home_visits and not doctor.home_visits:
            continue
        if best is None or (distance is not None and (best.distance_km is None or distance < best.distance_km)):
            best = Suggestion(doctor, location, distance, doctor.capacity_remaining)
    return best


def _shared_languages(request: PatientRequest, doctor: DoctorCard) -> set[str]:
    return set(request.languages or []) & set(doctor.languages or ["fr"])


def _explain(request: PatientRequest, suggestion: Suggestion) -> Suggestion:
    """Why a qualifying doctor qualifies (the conditions checked by _assess), in French."""
    doctor, reasons = suggestion.doctor, []
    if suggestion.distance_km is not None:
        reasons.append(f"à {suggestion.distance_km:.1f} km".replace(".", ","))
    reasons.append(f"accepte de nouveaux patients ({doctor.capacity_remaining} place(s))")
    if doctor.priority_only:
        reasons.append("réservé aux patients prioritaires : le patient l'est")
    if request.languages:
        shared = _shared_languages(request, doctor)
        reasons.append("parle " + ", ".join(LANGUAGE_NAMES.get(code, code) for code in sorted(shared)))
    if request.needs_home_visits:
        reasons.append(
            "fait des visites à domicile"
            + (f" jusqu'à {doctor.home_visit_radius_km} km" if doctor.home_visit_radius_km else "")
        )
    if suggestion.load:
        reasons.append(
            f"{suggestion.load} proposition(s) en attente ou acceptée(s) depuis {FAIRNESS_DAYS} jours"
            f" : compté {suggestion.load * FAIRNESS_KM} km plus loin"
        )
    suggestion.reasons = reasons
    return suggestion


# Fairness: each offer a doctor has pending, or accepted in the last FAIRNESS_DAYS days, counts
# as FAIRNESS_KM kilometres further, so the load is shared instead of always asking the nearest.
FAIRNESS_KM = 2
FAIRNESS_DAYS = 30

ORDER_EXPLANATION = (
    "Ordre de la liste : d'abord les médecins qui réservent leurs places aux patients prioritaires, "
    "puis du plus proche au plus lointain en kilomètres arrondis (4,1 km et 3,8 km comptent tous deux "
    f"pour 4 km), chaque proposition en attente ou acceptée depuis {FAIRNESS_DAYS} jours comptant "
    f"{FAIRNESS_KM} km de plus (pour ne pas solliciter toujours le même médecin), puis, à kilomètre "
    "égal, ceux qui ont le plus de places ; un cabinet sans position connue vient en dernier."
)


def _order(suggestion: Suggestion) -> tuple[int, float, int, float]:
    """The order of ORDER_EXPLANATION: change them together."""
    distance = suggestion.distance_km
    whole_km = float("inf") if distance is None else float(round(distance)) + FAIRNESS_KM * suggestion.load
    reserved_first = 0 if suggestion.doctor.priority_only else 1
    return (reserved_first, whole_km, -suggestion.places_left, distance if distance is not None else float("inf"))


def rank_doctors(
    request: PatientRequest,
    doctors: Sequence[DoctorCard],
    limit: int = 20,
    now: datetime | None = None,
    load: Mapping[int, int] | None = None,
) -> Ranking:
    """`doctors`: the CPTS's doctors with places left (cards from doctors.repository); `now`:
    the time of the ranking (priority on that day, availability, freshness); `load`: offers
    pending or accepted in the last FAIRNESS_DAYS per doctor id (app/requests/offers.py)."""
    now = now or utcnow()
    today = day_in_paris(now)  # the patient's age and the doctors' availability, in Paris
    eligible: list[Suggestion] = []
    stale: list[Suggestion] = []
    for doctor in doctors:
        suggestion = _assess(request, doctor, today)
        if suggestion is None:
            continue
        suggestion.load = (load or {}).get(doctor.id, 0)
        (stale if doctor.is_stale(now) else eligible).append(suggestion)
    eligible.sort(key=_order)
    stale.sort(key=_order)
    return Ranking(
        [_explain(request, s) for s in eligible[:limit]],
        [_explain(request, s) for s in stale[:limit]],
        considered=len(doctors),
    )

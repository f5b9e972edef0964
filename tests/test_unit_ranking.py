"""The ranking rule (app/requests/ranking.py) as a plain function: no database, no app.
A patient in Arras; doctors placed due north of it at chosen distances."""

from datetime import date, timedelta

from app.core.database import utcnow
from app.doctors.repository import DoctorCard, PracticeCard
from app.requests.models import PatientRequest
from app.requests.ranking import great_circle_km, rank_doctors

ARRAS = (50.2910, 2.7775)
KM_PER_DEGREE_OF_LATITUDE = 111.195  # on the sphere of great_circle_km


def patient(**changes) -> PatientRequest:
    values = {
        "birth_date": date(1980, 5, 1),
        "ald": False,
        "css_or_ame": "no",
        "needs_home_visits": False,
        "languages": [],
        "latitude": ARRAS[0],
        "longitude": ARRAS[1],
    }
    return PatientRequest(**{**values, **changes})


def doctor(id: int, *km_north: float | None, **changes) -> DoctorCard:
    """A doctor with a practice at each distance (None: a practice not located)."""
    locations = [
        PracticeCard(
            id=id * 10 + i,
            address=f"{i} rue Pasteur",
            city="Arras",
            phone=None,
            latitude=None if km is None else ARRAS[0] + km / KM_PER_DEGREE_OF_LATITUDE,
            longitude=None if km is None else ARRAS[1],
        )
        for i, km in enumerate(km_north or (1.0,))
    ]
    values = {
        "id": id,
        "given_name": "Anne",
        "family_name": f"Docteur{id}",
        "phone": None,
        "active": True,
        "accepting_new_patients": True,
        "capacity_remaining": 5,
        "available_until": None,
        "priority_only": False,
        "home_visits": False,
        "home_visit_radius_km": None,
        "languages": ["fr"],
        "max_distance_km": None,
        "confirmed_at": utcnow() - timedelta(days=10),
        "locations": locations,
    }
    return DoctorCard(**{**values, **changes})


def ids(suggestions) -> list[int]:
    return [s.doctor.id for s in suggestions]


def test_the_placement_of_the_test_doctors_is_the_distance_asked():
    card = doctor(1, 7.0)
    location = card.locations[0]
    assert abs(great_circle_km(*ARRAS, location.latitude, location.longitude) - 7.0) < 0.01


def test_nearest_first_and_within_the_same_kilometre_the_one_with_more_places():
    ranking = rank_doctors(
        patient(),
        [
            doctor(1, 9.0),
            doctor(2, 2.2, capacity_remaining=2),
            doctor(3, 1.8, capacity_remaining=8),  # rounds to 2 km too, more places: first
            doctor(4, 0.4, capacity_remaining=1),
        ],
    )
    assert ids(ranking.eligible) == [4, 3, 2, 1]
    assert [round(s.distance_km, 1) for s in ranking.eligible] == [0.4, 1.8, 2.2, 9.0]
    assert ranking.considered == 4 and ranking.stale == []


def test_the_nearest_practice_counts_and_the_doctors_maximum_distance_is_kept():
    ranking = rank_doctors(
        patient(),
        [
            doctor(1, 12.0, 3.0),  # its second practice is the one proposed
            doctor(2, 4.0, max_distance_km=3),  # too far for this doctor
            doctor(3, 25.0, 2.5, max_distance_km=3),  # one practice near enough
        ],
    )
    assert ids(ranking.eligible) == [3, 1]
    assert [s.location.id for s in ranking.eligible] == [31, 11]


def test_doctors_without_room_today_are_not_proposed():
    yesterday = utcnow().date() - timedelta(days=1)
    ranking = rank_doctors(
        patient(),
        [
            doctor(1, active=False),
            doctor(2, accepting_new_patients=False),
            doctor(3, capacity_remaining=0),
            doctor(4, available_until=yesterday),
            doctor(5, available_until=utcnow().date()),  # until today included
        ],
    )
    assert ids(ranking.eligible) == [5]
    assert ranking.considered == 5


def test_a_doctor_for_priority_patients_only_takes_the_fragile_only():
    reserved = doctor(1, priority_only=True)
    assert rank_doctors(patient(), [reserved]).eligible == []
    for fragile in (
        patient(ald=True),
        patient(css_or_ame="yes"),
        patient(birth_date=date(1940, 1, 1)),
    ):
        [suggestion] = rank_doctors(fragile, [reserved]).eligible
        assert "réservé aux patients prioritaires : le patient l'est" in suggestion.reasons


def test_a_shared_language_is_needed_when_the_patient_gave_some():
    english = patient(languages=["en"])
    ranking = rank_doctors(
        english,
        [doctor(1, languages=["fr"]), doctor(2, languages=["fr", "en"]), doctor(3, languages=[])],
    )
    assert ids(ranking.eligible) == [2]
    assert "parle anglais" in ranking.eligible[0].reasons
    # A doctor who gave no language speaks French.
    assert ids(rank_doctors(patient(languages=["fr"]), [doctor(3, languages=[])]).eligible) == [3]


def test_home_visits_within_the_doctors_radius():
    housebound = patient(needs_home_visits=True)
    ranking = rank_doctors(
        housebound,
        [
            doctor(1, 2.0),  # no home visits
            doctor(2, 8.0, home_visits=True, home_visit_radius_km=5),  # beyond its radius
            doctor(3, 4.0, home_visits=True, home_visit_radius_km=5),
            doctor(4, 6.0, home_visits=True),  # no radius given: any distance
        ],
    )
    assert ids(ranking.eligible) == [3, 4]
    assert "fait des visites à domicile jusqu'à 5 km" in ranking.eligible[0].reasons


def test_stale_doctors_are_listed_apart():
    long_ago = utcnow() - timedelta(days=200)  # past the 182 days after which an entry is stale
    ranking = rank_doctors(patient(), [doctor(1, 5.0), doctor(2, 1.0, confirmed_at=long_ago)])
    assert ids(ranking.eligible) == [1] and ids(ranking.stale) == [2]


def test_the_reasons_are_written_in_french():
    [suggestion] = rank_doctors(patient(), [doctor(1, 1.84, capacity_remaining=3)]).eligible
    assert suggestion.reasons == ["à 1,8 km", "accepte de nouveaux patients (3 place(s))"]


def test_without_coordinates_every_doctor_qualifies_and_located_ones_come_first():
    unlocated_patient = patient(latitude=None, longitude=None)
    ranking = rank_doctors(unlocated_patient, [doctor(1, 3.0, max_distance_km=1), doctor(2, 1.0, capacity_remaining=9)])
    assert ids(ranking.eligible) == [2, 1]  # no distance to compare: the one with more places first
    assert all(s.distance_km is None for s in ranking.eligible)
    located = rank_doctors(patient(), [doctor(1, None), doctor(2, 30.0)])
    assert ids(located.eligible) == [2, 1]


def test_at_most_the_limit_is_proposed():
    ranking = rank_doctors(patient(), [doctor(i, float(i)) for i in range(1, 31)], limit=20)
    assert ids(ranking.eligible) == list(range(1, 21))
    assert ranking.considered == 30

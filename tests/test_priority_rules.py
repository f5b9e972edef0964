"""The priority rule, once, in Python and SQL: the age follows the birth date on the day the
queue is read, so a patient who turns 70 while waiting moves up that day without any write."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.doctors.repository import DoctorCard, PracticeCard
from app.requests import repository
from app.requests.models import PatientRequest
from app.requests.priority import (
    Weights,
    age_on,
    born_70_years_ago,
    day_in_paris,
    groups_at_intake,
    is_70_or_more,
    priority_of,
    score_expression,
)
from app.requests.ranking import rank_doctors
from app.territories.models import Territory
from tests.factories import submit

ADMIN = Principal(None, "admin@test.example.fr", Role.ADMIN, frozenset(), None, None)


def patient(birth_date: date, *, ald: bool = False, css_or_ame: str = "no", aged_70_at_intake: bool = False):
    return PatientRequest(
        birth_date=birth_date, ald=ald, css_or_ame=css_or_ame, aged_70_or_more=aged_70_at_intake, languages=[]
    )


# Days that matter: a birthday in a common year, 28 February / 29 February / 1 March of
# leap and common years, New Year's Eve.
DAYS = [
    date(2026, 11, 23),
    date(2027, 2, 28),
    date(2027, 3, 1),
    date(2028, 2, 28),
    date(2028, 2, 29),
    date(2028, 3, 1),
    date(2026, 12, 31),
    date(2027, 1, 1),
]
# Born around each day's 70th birthday, and on 29 February of leap years around it.
BIRTH_DATES = sorted(
    {
        day.replace(year=day.year - 70, day=min(day.day, 28)) + timedelta(days=d)
        for day in DAYS
        for d in (-2, -1, 0, 1, 2)
    }
    | {date(1956, 2, 29), date(1958, 2, 28), date(1958, 3, 1), date(1957, 2, 28), date(1957, 3, 1)}
)


def test_the_70th_birthday_threshold_is_the_age_counted_day_by_day():
    """is_70_or_more (what SQL compares) against age_on, every day of four years, births
    around the threshold, 29 February included."""
    day = date(2026, 1, 1)
    while day < date(2030, 1, 1):
        threshold = born_70_years_ago(day)
        for birth in [threshold + timedelta(days=d) for d in range(-3, 4)] + [date(day.year - 70, 2, 28)]:
            assert is_70_or_more(birth, day) == (age_on(birth, day) >= 70), (birth, day)
        for leap_year in (1956, 1960):
            born_29 = date(leap_year, 2, 29)
            assert is_70_or_more(born_29, day) == (age_on(born_29, day) >= 70), (born_29, day)
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("birth_date", "today", "seventy"),
    [
        (date(1956, 11, 24), date(2026, 11, 23), False),  # 70 tomorrow
        (date(1956, 11, 24), date(2026, 11, 24), True),  # 70 today
        (date(1956, 2, 29), date(2026, 2, 28), False),  # born 29 February: not yet in a common year
        (date(1956, 2, 29), date(2026, 3, 1), True),
        (date(1958, 2, 28), date(2028, 2, 29), True),
        (date(1958, 3, 1), date(2028, 2, 29), False),
        (date(1960, 2, 29), date(2030, 3, 1), True),
    ],
)
def test_priority_of_follows_the_birth_date_on_the_day(birth_date, today, seventy):
    priority = priority_of(patient(birth_date), Weights(), today)
    assert (priority.groups, priority.score) == ((["age_70"], 1) if seventy else ([], 0))
    expected = "Prioritaire : 70 ans ou plus." if seventy else "Pas de critère de priorité : ordre d'arrivée."
    assert priority.explanation == expected


def test_priority_of_adds_the_weights_of_the_cpts():
    request = patient(date(1950, 1, 1), ald=True, css_or_ame="yes")
    priority = priority_of(request, Weights(ald=3, age_70=2, css=1), date(2026, 11, 23))
    assert priority.groups == ["ald", "age_70", "css"] and priority.score == 6
    assert priority.explanation == (
        "Prioritaire : ALD (affection de longue durée), 70 ans ou plus, complémentaire santé solidaire ou AME."
    )
    assert priority_of(patient(date(1990, 1, 1), css_or_ame="unknown"), Weights(), date(2026, 11, 23)).score == 0


def test_the_indicators_count_the_groups_at_intake():
    request = patient(date(1956, 11, 24), aged_70_at_intake=False)
    assert groups_at_intake(request) == []
    assert priority_of(request, Weights(), date(2027, 1, 1)).groups == ["age_70"]


def test_the_day_is_the_paris_one():
    assert day_in_paris(datetime(2026, 11, 23, 23, 30, tzinfo=UTC)) == date(2026, 11, 24)
    assert day_in_paris(datetime(2026, 7, 1, 21, 59, tzinfo=UTC)) == date(2026, 7, 1)


def card(priority_only: bool, now: datetime) -> DoctorCard:
    return DoctorCard(
        id=1,
        given_name="Anne",
        family_name="Martin",
        phone=None,
        active=True,
        accepting_new_patients=True,
        capacity_remaining=3,
        available_until=None,
        priority_only=priority_only,
        home_visits=False,
        home_visit_radius_km=None,
        languages=["fr"],
        max_distance_km=None,
        confirmed_at=now - timedelta(days=1),
        locations=[PracticeCard(1, "3 rue Pasteur", "Arras", None, 50.29, 2.78)],
    )


def test_a_doctor_for_priority_patients_only_takes_one_from_the_day_he_turns_70():
    the_eve = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    request = patient(date(1956, 11, 24))
    request.latitude, request.longitude, request.needs_home_visits = 50.28, 2.78, False
    doctors = [card(priority_only=True, now=the_eve), card(priority_only=False, now=the_eve)]
    doctors[1].id = 2
    assert [s.doctor.id for s in rank_doctors(request, doctors, now=the_eve).eligible] == [2]
    ranking = rank_doctors(request, doctors, now=the_eve + timedelta(days=1))
    assert sorted(s.doctor.id for s in ranking.eligible) == [1, 2]
    reserved = next(s for s in ranking.eligible if s.doctor.id == 1)
    assert "réservé aux patients prioritaires : le patient l'est" in reserved.reasons


@pytest.mark.usefixtures("demo_territories")
def test_the_sql_score_agrees_with_priority_of(client, db):
    """The queue's order (SQL) and the badge (Python) give the same score, with the CPTS's
    weights, for every birth date around the 70th birthday of each day, 29 February included."""
    territory = db.scalar(select(Territory).where(Territory.slug == "grand-arras"))
    territory.weight_ald, territory.weight_age_70, territory.weight_css = 4, 2, 1
    db.commit()
    for n, birth in enumerate(BIRTH_DATES):
        response = submit(client, birth_date=birth.isoformat(), ald=n % 3 == 0, css_or_ame="yes" if n % 2 else "no")
        assert response.status_code == 201, response.text
    requests = db.scalars(select(PatientRequest)).all()
    assert len(requests) == len(BIRTH_DATES)
    weights = Weights.of(territory)
    for day in DAYS:
        in_sql = dict(
            db.execute(
                select(PatientRequest.id, func.coalesce(score_expression(day), 0)).join(
                    Territory, PatientRequest.territory_id == Territory.id
                )
            ).all()
        )
        in_python = {r.id: priority_of(r, weights, day).score for r in requests}
        assert in_sql == in_python, day
        assert {r.id for r in requests if "age_70" in priority_of(r, weights, day).groups} == {
            r.id for r in requests if age_on(r.birth_date, day) >= 70
        }


@pytest.mark.usefixtures("demo_territories")
def test_a_patient_turning_70_tomorrow_moves_up_the_queue_tomorrow_without_any_write(client, coordinator, db):
    today = day_in_paris()
    tomorrow = today + timedelta(days=1)
    first = submit(client, birth_date=born(45)).json()["id"]
    turning_70 = submit(client, family_name="Vasseur", birth_date=tomorrow.replace(year=tomorrow.year - 70).isoformat())
    turning_70 = turning_70.json()["id"]
    queue = client.get("/api/v1/requests", headers=coordinator).json()["items"]
    assert [r["id"] for r in queue] == [first, turning_70]  # today: arrival order
    assert queue[1]["priority"]["groups"] == [] and queue[1]["age"] == 69
    written = db.scalar(select(func.max(PatientRequest.updated_at)))

    rows, _ = repository.queue_page(db, ADMIN, repository.QueueFilters(), 1, 50, today=tomorrow)
    assert [r.id for r in rows] == [turning_70, first]
    assert priority_of(rows[0], Weights.of(rows[0].territory), tomorrow).groups == ["age_70"]
    db.rollback()
    assert db.scalar(select(func.max(PatientRequest.updated_at))) == written


def born(years_ago: int) -> str:
    return (date.today() - timedelta(days=round(365.25 * years_ago) + 5)).isoformat()


@pytest.fixture
def coordinator(make_account):
    return make_account("coordinator", ["grand-arras"])

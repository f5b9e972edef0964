"""The queue's priority rule (app/requests/priority.py) as a plain function: the groups
(ALD, 70 and over, CSS or AME), the score from the CPTS's weights, the explanation."""

from datetime import date

from app.requests.models import PatientRequest
from app.requests.priority import Weights, age_on, priority_of


def patient(birth_date: date = date(1980, 5, 1), **changes) -> PatientRequest:
    """A request as stored; aged_70_or_more agrees with the birth date (today)."""
    values = {"ald": False, "css_or_ame": "no", "aged_70_or_more": age_on(birth_date, date.today()) >= 70}
    return PatientRequest(birth_date=birth_date, **{**values, **changes})


def seventy_today() -> date:
    today = date.today()
    return today.replace(year=today.year - 70) if (today.month, today.day) != (2, 29) else date(today.year - 70, 3, 1)


def test_age_is_counted_in_whole_years_from_the_birthday():
    assert age_on(date(1956, 3, 2), date(2026, 3, 1)) == 69
    assert age_on(date(1956, 3, 2), date(2026, 3, 2)) == 70
    assert age_on(date(1956, 2, 29), date(2026, 2, 28)) == 69


def test_nobody_fragile_is_in_arrival_order():
    priority = priority_of(patient(), Weights())
    assert (priority.groups, priority.score) == ([], 0)
    assert priority.explanation == "Pas de critère de priorité : ordre d'arrivée."


def test_each_group_counts_and_is_named():
    assert priority_of(patient(ald=True), Weights()).groups == ["ald"]
    assert priority_of(patient(css_or_ame="yes"), Weights()).groups == ["css"]
    assert priority_of(patient(birth_date=seventy_today()), Weights()).groups == ["age_70"]
    everything = priority_of(patient(birth_date=date(1940, 1, 1), ald=True, css_or_ame="yes"), Weights())
    assert everything.groups == ["ald", "age_70", "css"] and everything.score == 3
    assert everything.explanation == (
        "Prioritaire : ALD (affection de longue durée), 70 ans ou plus, complémentaire santé solidaire ou AME."
    )


def test_an_unknown_css_answer_is_not_a_priority():
    assert priority_of(patient(css_or_ame="unknown"), Weights()).groups == []


def test_the_score_is_the_sum_of_the_cptss_weights():
    weights = Weights(ald=3, age_70=2, css=1)
    assert priority_of(patient(ald=True), weights).score == 3
    assert priority_of(patient(birth_date=date(1940, 1, 1), css_or_ame="yes"), weights).score == 3
    assert priority_of(patient(birth_date=date(1940, 1, 1), ald=True, css_or_ame="yes"), weights).score == 6
    # A weight of zero: still named as a group, but it no longer moves the request up.
    unweighted = priority_of(patient(css_or_ame="yes"), Weights(css=0))
    assert unweighted.groups == ["css"] and unweighted.score == 0

"""The queue's priority rule (app/requests/priority.py) as a plain function, on a given day:
the groups (ALD, 70 and over, CSS or AME), the score from the CPTS's weights, the explanation
the coordinator reads. (test_priority_rules.py holds the 70th birthday and the SQL score.)"""

from datetime import date

from app.requests.models import PatientRequest
from app.requests.priority import Weights, priority_of

TODAY = date(2026, 11, 23)
FORTY = date(1986, 5, 1)
EIGHTY = date(1946, 5, 1)


def patient(birth_date: date = FORTY, **changes) -> PatientRequest:
    return PatientRequest(birth_date=birth_date, **{"ald": False, "css_or_ame": "no", **changes})


def test_nobody_fragile_is_in_arrival_order():
    priority = priority_of(patient(), Weights(), TODAY)
    assert (priority.groups, priority.score) == ([], 0)
    assert priority.explanation == "Pas de critère de priorité : ordre d'arrivée."


def test_each_group_counts_and_is_named_in_french():
    assert priority_of(patient(ald=True), Weights(), TODAY).groups == ["ald"]
    assert priority_of(patient(css_or_ame="yes"), Weights(), TODAY).groups == ["css"]
    assert priority_of(patient(EIGHTY), Weights(), TODAY).groups == ["age_70"]
    everything = priority_of(patient(EIGHTY, ald=True, css_or_ame="yes"), Weights(), TODAY)
    assert everything.groups == ["ald", "age_70", "css"] and everything.score == 3
    assert everything.explanation == (
        "Prioritaire : ALD (affection de longue durée), 70 ans ou plus, complémentaire santé solidaire ou AME."
    )


def test_an_unknown_css_answer_is_not_a_priority():
    assert priority_of(patient(css_or_ame="unknown"), Weights(), TODAY).groups == []


def test_the_score_is_the_sum_of_the_cptss_weights():
    weights = Weights(ald=3, age_70=2, css=1)
    assert priority_of(patient(ald=True), weights, TODAY).score == 3
    assert priority_of(patient(EIGHTY, css_or_ame="yes"), weights, TODAY).score == 3
    assert priority_of(patient(EIGHTY, ald=True, css_or_ame="yes"), weights, TODAY).score == 6
    # A weight of zero: still named as a group, but it no longer moves the request up.
    unweighted = priority_of(patient(css_or_ame="yes"), Weights(css=0), TODAY)
    assert unweighted.groups == ["css"] and unweighted.score == 0

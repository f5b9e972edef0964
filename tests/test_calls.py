"""The phone line's calls: the coordination logs one in two clicks from the queue or its own
page (CSRF as every form, nothing about the caller stored), and the indicators count them by
day and by hour in Paris time, with their exports; each CPTS counts its own."""

import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import inspect, select

from app.calls.models import PhoneCall
from tests.helpers.workspace import COORDINATOR, DOCTOR, OTHER_COORDINATOR, PROFESSIONAL, csrf_of, flash_of, sign_in

pytestmark = pytest.mark.usefixtures("demo")


def _log(client, page: str, **choices):
    html = client.get(page).text
    return client.post(
        "/espace/appels",
        data={"csrf_token": csrf_of(html), "suite": page, **choices},
        follow_redirects=False,
    )


def _at(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr("app.calls.service.utcnow", lambda: moment)


def test_a_call_is_logged_from_the_queue_in_two_clicks_and_keeps_nothing_of_the_caller(client, db, monkeypatch):
    sign_in(client, COORDINATOR)
    queue = client.get("/espace/demandes").text
    # Who called is "patient" unless changed, why "médecin traitant": the outcome's button logs it.
    assert (
        "<legend>Qui appelle ?</legend>" in queue
        and 'id="call-caller-patient" name="caller" value="patient" checked' in queue
    )
    assert '<button type="submit" name="outcome" value="booked"' in queue
    _at(monkeypatch, datetime(2026, 7, 1, 6, 30, tzinfo=UTC))
    logged = _log(client, "/espace/demandes", caller="patient", reason="unscheduled", outcome="booked")
    assert logged.status_code == 303 and logged.headers["location"] == "/espace/demandes"
    assert (
        flash_of(client.get("/espace/demandes").text) == "Appel noté : patient, soins non programmés, créneau réservé."
    )
    db.rollback()
    [call] = db.scalars(select(PhoneCall)).all()
    assert (call.caller, call.reason, call.outcome) == ("patient", "unscheduled", "booked")
    # Its columns: the three choices, the time, the CPTS and who logged it — no number, no name.
    columns = {c["name"] for c in inspect(db.get_bind()).get_columns("phone_calls")}
    assert columns == {"id", "territory_id", "caller", "reason", "outcome", "called_at", "logged_by_user_id"}


def test_a_call_without_the_forms_token_or_with_an_unknown_choice_is_refused(client, db):
    sign_in(client, COORDINATOR)
    forged = client.post(
        "/espace/appels", data={"caller": "patient", "reason": "doctor", "outcome": "booked"}, follow_redirects=False
    )
    assert forged.status_code == 403
    wrong = _log(client, "/espace/appels", caller="voisin", reason="doctor", outcome="booked")
    assert wrong.status_code == 303
    assert flash_of(client.get("/espace/appels").text) == "Appel non enregistré : Choisissez qui appelle."
    # A page of elsewhere is no place to go back to: the calls' page.
    elsewhere = _log(
        client, "/espace/appels", caller="relative", reason="other", outcome="redirected", suite="https://x.example"
    )
    assert elsewhere.headers["location"] == "/espace/appels"
    db.rollback()
    assert [(c.caller, c.outcome) for c in db.scalars(select(PhoneCall))] == [("relative", "redirected")]


@pytest.mark.parametrize("email", [PROFESSIONAL, DOCTOR])
def test_only_the_coordination_logs_calls(client, email):
    sign_in(client, email)
    assert client.get("/espace/appels").status_code == 403
    assert 'href="/espace/appels"' not in client.get("/espace", follow_redirects=True).text


def test_the_indicators_count_calls_by_paris_day_and_hour_and_each_cpts_its_own(client, monkeypatch):
    sign_in(client, COORDINATOR)
    # 8 h in Paris in summer (UTC+2) and in winter (UTC+1); 23:30 UTC on 1 July is 2 July in Paris.
    for moment, reason in (
        (datetime(2026, 7, 1, 6, 10, tzinfo=UTC), "doctor"),
        (datetime(2026, 7, 1, 6, 50, tzinfo=UTC), "doctor"),
        (datetime(2026, 1, 15, 7, 5, tzinfo=UTC), "unscheduled"),
        (datetime(2026, 7, 1, 22, 30, tzinfo=UTC), "other"),
    ):
        _at(monkeypatch, moment)
        assert (
            _log(client, "/espace/appels", caller="professional", reason=reason, outcome="questionnaire").status_code
            == 303
        )
    sign_in(client, OTHER_COORDINATOR)
    _at(monkeypatch, datetime(2026, 7, 1, 6, 0, tzinfo=UTC))
    _log(client, "/espace/appels", caller="patient", reason="doctor", outcome="questionnaire")

    sign_in(client, COORDINATOR)
    page = client.get("/espace/indicateurs?du=2026-01-01&au=2026-12-31").text
    assert re.search(r'id="calls-total">4<', page)
    hours = dict(re.findall(r"<tr><td>(\d\d h)</td><td class=\"num\">(\d+)</td></tr>", page))
    assert hours["08 h"] == "3" and hours["00 h"] == "1" and hours["09 h"] == "0"
    assert '<tr><td>01/07/2026</td><td class="num">2</td></tr>' in page
    assert '<tr><td>02/07/2026</td><td class="num">1</td></tr>' in page
    assert '<tr><td>15/01/2026</td><td class="num">1</td></tr>' in page
    # A period: the summer only.
    july = client.get("/espace/indicateurs?du=2026-07-01&au=2026-07-01").text
    assert re.search(r'id="calls-total">2<', july)

    csv = client.get("/espace/indicateurs.csv?du=2026-01-01&au=2026-12-31").text
    assert "Appels reçus (notés);4" in csv
    assert "Appels, motif : médecin traitant;2" in csv
    assert "Appels entre 08 h et 09 h;3" in csv
    assert "Appels le 02/07/2026;1" in csv
    sheet = load_workbook(io.BytesIO(client.get("/espace/indicateurs.xlsx?du=2026-01-01&au=2026-12-31").content)).active
    assert ("Appels, suite donnée : questionnaire rempli", 4) in [
        tuple(r[:2]) for r in sheet.iter_rows(values_only=True)
    ]
    # The other CPTS's coordinator sees its one call.
    sign_in(client, OTHER_COORDINATOR)
    assert re.search(r'id="calls-total">1<', client.get("/espace/indicateurs?du=2026-01-01&au=2026-12-31").text)


def test_the_calls_page_shows_todays_calls_by_hour(client, monkeypatch):
    sign_in(client, COORDINATOR)
    now = datetime.now(UTC)
    _at(monkeypatch, now)
    _log(client, "/espace/appels", caller="patient", reason="doctor", outcome="questionnaire")
    page = client.get("/espace/appels").text
    assert "1 appel</h2>" in page and 'id="calls-today"' in page

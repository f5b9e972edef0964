"""Export of requests and the CPTS's indicators."""

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.factories import add_doctor, born, submit

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def activity(client, coordinator):
    """Four requests of the Grand Arras (one matched, one closed), one from Mercatel."""
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000", capacity_remaining=4)
    ids = [
        submit(client, given_name=n, **kw).json()["id"]
        for n, kw in [
            ("Ald", {"ald": True, "birth_date": born(75)}),
            ("Css", {"css": "yes", "ame": "no"}),
            ("Rien", {}),
            ("Parti", {}),
        ]
    ]
    submit(client, given_name="Dehors", city="Mercatel")
    url = "/api/v1/requests/{}/transitions"
    client.post(url.format(ids[0]), json={"to": "proposed"}, headers=coordinator)
    client.post(url.format(ids[0]), json={"to": "matched", "doctor_id": doctor}, headers=coordinator)
    client.post(url.format(ids[3]), json={"to": "closed", "reason": "moved_out"}, headers=coordinator)
    return ids


def test_indicators_give_the_aci_figures(client, coordinator, activity):
    response = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator)
    assert response.status_code == 200
    body = response.json()
    assert body["requests"] == {
        "received": 4,
        "out_of_territory": 1,
        "proposed": 0,
        "matched": 1,
        "closed": {"moved_out": 1},
        "still_waiting": 2,
    }
    no_split = {"css_yes": 0, "ame_yes": 0, "css_or_ame_unknown_which": 0}
    assert body["received_by_group"] == {"ald": 1, "age_70": 1, "css": 1, **no_split, "css_yes": 1, "total": 4}
    assert body["matched_by_group"] == {"ald": 1, "age_70": 1, "css": 0, **no_split, "total": 1}
    assert body["median_days_to_match"] == 0.0
    assert body["by_commune"] == {"Tilloy-lès-Mofflaines": 4, "Mercatel": 1}
    assert body["doctors"] == {"volunteers": 1, "accepting": 1, "places_offered": 3, "places_used": 1, "stale": 0}


def test_indicators_of_an_empty_period(client, coordinator, activity):
    body = client.get(
        "/api/v1/territories/grand-arras/indicators",
        params={"from": "2020-01-01", "to": "2020-12-31"},
        headers=coordinator,
    ).json()
    assert body["requests"]["received"] == 0 and body["median_days_to_match"] is None
    assert (
        client.get(
            "/api/v1/territories/grand-arras/indicators",
            params={"from": "2021-01-01", "to": "2020-01-01"},
            headers=coordinator,
        ).status_code
        == 422
    )


def test_export_csv_opens_in_a_spreadsheet_and_is_audited(client, coordinator, activity):
    response = client.get("/api/v1/requests/export", params={"cpts": "grand-arras"}, headers=coordinator)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["numéro", "reçue le", "statut"] and len(rows) == 6
    assert {r[2] for r in rows[1:]} == {"matched", "closed", "received", "out_of_territory"}
    only_matched = client.get("/api/v1/requests/export", params={"status": "matched"}, headers=coordinator)
    assert len(only_matched.content.decode("utf-8-sig").strip().splitlines()) == 2
    trail = client.get("/api/v1/audit", params={"object_type": "patient_request"}, headers=coordinator).json()
    assert any(e["action"] == "request.export" for e in trail)


def test_export_xlsx(client, coordinator, activity):
    response = client.get("/api/v1/requests/export", params={"format": "xlsx"}, headers=coordinator)
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value == "numéro" and sheet.max_row == 6


def test_another_cpts_gets_neither(client, make_account, activity):
    other = make_account("coordinator", ["provence-sante"])
    assert client.get("/api/v1/territories/grand-arras/indicators", headers=other).status_code == 403
    rows = client.get("/api/v1/requests/export", headers=other).content.decode("utf-8-sig").strip().splitlines()
    assert len(rows) == 1  # the header only

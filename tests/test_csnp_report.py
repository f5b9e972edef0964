"""FICHE 6's report of the CSNP: bookings, passages (came on a booking, or without one), unexcused
absences, age bands and "with / without médecin traitant", per centre and per doctor, for a
period, on the indicators page and in its exports (both databases)."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from app.demo_people import demo_rpps
from app.snp.models import Slot, WalkIn
from tests.factories import add_doctor, make_slot
from tests.helpers.workspace import flash_of

pytestmark = pytest.mark.usefixtures("demo_territories")
BOARD = "/espace/soins-non-programmes"
PATIENT = {"family_name": "Venu", "given_name": "Paul", "phone": "06 12 34 56 78", "reason": "Fièvre"}


def _centre(client, coordinator) -> int:
    body = {"cpts": "grand-arras", "name": "CSNP d'Arras", "address": "1 place de la Gare", "postcode": "62000"}
    response = client.post("/api/v1/snp/centres", json={**body, "city": "Arras"}, headers=coordinator)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _book(client, coordinator, slot_id: int, band: str, has_doctor: str) -> int:
    response = client.post(
        f"/api/v1/snp/slots/{slot_id}/bookings",
        json={**PATIENT, "age_band": band, "has_doctor": has_doctor},
        headers=coordinator,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _walk_in(client, headers, owner: str, band: str, has_doctor: str):
    return client.post(
        f"{BOARD}/passages",
        data={"owner": owner, "age_band": band, "has_doctor": has_doctor},
        headers=headers,
        follow_redirects=False,
    )


@pytest.fixture
def activity(client, coordinator, db, monkeypatch):
    """In the Grand Arras, yesterday: at the centre two bookings (one came, one absent) and two
    walk-ins; Dr Test Docteur1 one booking that came and one cancelled; and a walk-in a month ago."""
    doctor = add_doctor(client, coordinator, 1, "Arras", "62000")
    centre = _centre(client, coordinator)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    centre_slots = []
    for n in range(2):
        start = soon + timedelta(hours=n)
        created = client.post(
            "/api/v1/snp/slots",
            json={"centre_id": centre, "start": start.isoformat(), "end": (start + timedelta(minutes=20)).isoformat()},
            headers=coordinator,
        )
        assert created.status_code == 201, created.text
        centre_slots.append(created.json()["id"])
    came = _book(client, coordinator, centre_slots[0], "70+", "no")
    absent = _book(client, coordinator, centre_slots[1], "18-69", "yes")
    seen = _book(client, coordinator, make_slot(db, doctor, soon + timedelta(hours=3)), "0-17", "unknown")
    cancelled = _book(client, coordinator, make_slot(db, doctor, soon + timedelta(hours=4)), "70+", "no")
    assert client.post(f"/api/v1/snp/bookings/{cancelled}/cancel", headers=coordinator).status_code == 200
    yesterday = datetime.now(UTC) - timedelta(days=1)
    db.execute(update(Slot).values(start_at=yesterday, end_at=yesterday + timedelta(minutes=20)))
    db.commit()
    for booking, outcome in ((came, "fulfilled"), (absent, "noshow"), (seen, "fulfilled")):
        answer = client.post(f"/api/v1/snp/bookings/{booking}/outcome", json={"outcome": outcome}, headers=coordinator)
        assert answer.status_code == 200, answer.text
    monkeypatch.setattr("app.snp.service.utcnow", lambda: yesterday)
    assert _walk_in(client, coordinator, f"c{centre}", "70+", "no").status_code == 303
    assert _walk_in(client, coordinator, f"c{centre}", "18-69", "no").status_code == 303
    monkeypatch.setattr("app.snp.service.utcnow", lambda: yesterday - timedelta(days=30))
    assert _walk_in(client, coordinator, f"d{doctor}", "18-69", "yes").status_code == 303
    return {"doctor": doctor, "centre": centre, "since": (yesterday - timedelta(days=2)).date()}


def _cells(html: str, name: str) -> list[str]:
    import re

    row = re.search(rf'<tr><th scope="row">{re.escape(name)}</th>(.*?)</tr>', html, re.S)
    assert row, f"no row for {name}"
    return re.findall(r'<td class="num">([^<]*)</td>', row.group(1))


def test_the_report_counts_passages_absences_age_bands_and_medecin_traitant_per_centre_and_doctor(
    client, coordinator, activity
):
    since = activity["since"]
    body = client.get(f"/api/v1/territories/grand-arras/indicators?from={since}", headers=coordinator).json()
    centre, doctor = body["csnp_report"]
    assert (centre["kind"], centre["name"], doctor["kind"], doctor["name"]) == (
        "centre",
        "CSNP d'Arras",
        "doctor",
        "Dr Test Docteur1",
    )
    # The centre: 2 booked, 1 came, 2 walk-ins: 3 passages, 1 unexcused absence (not a passage).
    assert centre["counts"] == {
        "booked": 2,
        "came": 1,
        "walk_in": 2,
        "passages": 3,
        "noshow": 1,
        "age_0-17": 0,
        "age_18-69": 1,
        "age_70+": 2,
        "age_unknown": 0,
        "doctor_yes": 0,
        "doctor_no": 3,
        "doctor_unknown": 0,
    }
    # The doctor: the cancelled booking is no booking; last month's walk-in is out of the period.
    assert doctor["counts"]["booked"] == 1 and doctor["counts"]["passages"] == 1
    assert doctor["counts"]["walk_in"] == 0 and doctor["counts"]["age_0-17"] == 1
    assert doctor["counts"]["doctor_unknown"] == 1
    everything = client.get("/api/v1/territories/grand-arras/indicators?from=2020-01-01", headers=coordinator).json()
    assert everything["csnp_report"][1]["counts"]["walk_in"] == 1
    # The CPTS's split by age band counts walk-ins and passages too.
    activity_report = body["unscheduled_care_report"]
    assert activity_report["age_band"]["70+"] == {"booked": 1, "came": 1, "noshow": 0, "walk_in": 1, "passages": 2}
    assert activity_report["has_doctor"]["no"]["passages"] == 3


def test_the_indicators_page_and_its_exports_show_the_report(client, coordinator, activity):
    since = activity["since"]
    page = client.get(f"/espace/indicateurs?du={since}", headers=coordinator).text
    assert "Rapport d'activité, par centre et par médecin" in page
    # centre or doctor | booked, came, walk-ins, passages, absences | 0-17, 18-69, 70+, unknown | yes, no, unknown
    assert _cells(page, "CSNP d&#39;Arras") == ["2", "1", "2", "3", "1", "0", "1", "2", "0", "0", "3", "0"]
    assert _cells(page, "Dr Test Docteur1") == ["1", "1", "0", "1", "0", "1", "0", "0", "0", "0", "0", "1"]
    csv = client.get(f"/espace/indicateurs.csv?du={since}", headers=coordinator).text
    assert "centre ou médecin;réservations;venus sur rendez-vous;sans rendez-vous;passages;absences non excusées" in csv
    assert "CSNP d'Arras;2;1;2;3;1;0;1;2;0;0;3;0" in csv
    workbook = load_workbook(
        io.BytesIO(client.get(f"/espace/indicateurs.xlsx?du={since}", headers=coordinator).content)
    )
    rows = [[c for c in row] for row in workbook.active.iter_rows(values_only=True)]
    assert ["CSNP d'Arras", 2, 1, 2, 3, 1, 0, 1, 2, 0, 0, 3, 0] in [r[:13] for r in rows]


def test_a_walk_in_keeps_only_the_reports_answers_and_is_refused_elsewhere(
    client, coordinator, other_coordinator, make_account, db, activity
):
    walk_ins = db.scalars(select(WalkIn)).all()
    assert {(w.age_band, w.has_doctor) for w in walk_ins} == {("70+", "no"), ("18-69", "no"), ("18-69", "yes")}
    # Another CPTS's coordinator does not know this centre: refused on the board, nothing written.
    refused = _walk_in(client, other_coordinator, f"c{activity['centre']}", "70+", "no")
    assert refused.status_code == 303
    assert "Centre inconnu dans vos CPTS." in flash_of(
        client.get(refused.headers["location"], headers=other_coordinator).text
    )
    # An answer outside the choices is refused with its reason, in French.
    wrong = _walk_in(client, coordinator, f"c{activity['centre']}", "100+", "no")
    assert "Tranche d&#39;âge inconnue." in flash_of(client.get(wrong.headers["location"], headers=coordinator).text)
    # A doctor records its own walk-ins, whatever owner the form says.
    doctor = make_account("doctor", ["grand-arras"], doctor_rpps=demo_rpps(501))
    assert _walk_in(client, doctor, f"c{activity['centre']}", "0-17", "yes").status_code == 303
    db.rollback()
    assert len(db.scalars(select(WalkIn)).all()) == 4
    newest = db.scalars(select(WalkIn).order_by(WalkIn.id.desc())).first()
    assert (newest.doctor_id, newest.centre_id) == (activity["doctor"], None)
    # A professional records nothing.
    assert _walk_in(client, make_account("professional", ["grand-arras"]), "c1", "0-17", "yes").status_code == 403

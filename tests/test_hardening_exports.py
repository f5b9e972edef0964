"""Issue 10, items 2-4: exports neutralise spreadsheet formulas and survive control characters;
no log line carries personal data, on the intake and export error paths (with caplog, and from
a real `orientation serve`)."""

import csv
import io
import logging
import re
import tempfile
import zipfile
from datetime import date

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import event, text, update

from app.accounts.models import Role
from app.accounts.schemas import UserCreate
from app.accounts.service import create_user
from app.core import spreadsheet
from app.core.logging import json_formatter
from app.requests.models import PatientRequest, Source
from app.territories.models import Territory
from tests.browser import running_server
from tests.factories import answers, submit

pytestmark = pytest.mark.usefixtures("demo_territories")

HYPERLINK = '=HYPERLINK("http://evil.example","x")'
# Given names as a spreadsheet would evaluate them: each must come back as text.
HOSTILE_GIVEN_NAMES = ["+1+1", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1", "\n=1+1", "\uff1d1+1", " =1+1"]

# One patient whose every detail must stay out of the logs.
PATIENT = {
    "family_name": "Zorglubovitch",
    "given_name": "Philomène",
    "birth_date": "1951-04-27",
    "phone": "06 98 76 54 32",
    "email": "philomene.zorglub@example.fr",
    "address": "17 rue des Capucins",
    "ald": True,
    "css_or_ame": "yes",
}
PERSONAL = ["Zorglub", "Philom", "1951-04-27", "27/04/1951", "98 76 54 32", "698765432", "Capucins"]


def leaks(log_text: str) -> list[str]:
    return [marker for marker in PERSONAL if marker.lower() in log_text.lower()]


def store_hostile_requests(client, db) -> list[int]:
    """A public submission with a formula for a name, then names stored with formula starts
    and control characters (as an older version, or an import, could have stored them)."""
    first = submit(client, family_name=HYPERLINK, given_name="Anne")
    assert first.status_code == 201, first.text
    ids = [first.json()["id"]]
    for n in range(len(HOSTILE_GIVEN_NAMES)):
        response = submit(client, family_name=f"Famille{n}", given_name=f"Prénom{n}")
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for request_id, given_name in zip(ids[1:], HOSTILE_GIVEN_NAMES, strict=True):
        db.execute(update(PatientRequest).where(PatientRequest.id == request_id).values(given_name=given_name))
    db.commit()
    return ids


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_the_csv_export_writes_formulas_as_quoted_text(client, db, coordinator):
    ids = store_hostile_requests(client, db)
    rows = csv_rows(client.get("/api/v1/requests/export", params={"cpts": "grand-arras"}, headers=coordinator))
    header, by_id = rows[0], {int(r[0]): dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert header[:2] == ["numéro", "reçue le"]
    assert by_id[ids[0]]["nom"] == "'" + HYPERLINK
    assert [by_id[i]["prénom"] for i in ids[1:]] == ["'" + name for name in HOSTILE_GIVEN_NAMES]
    # Everything else is as before: numbers, dates, ordinary text, the phone as it is dialled.
    assert by_id[ids[0]]["prénom"] == "Anne" and by_id[ids[0]]["âge"] == "45"
    assert by_id[ids[0]]["téléphone"] == "06 12 34 56 78"
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", by_id[ids[0]]["reçue le"])
    # No cell at all starts as a formula would.
    assert not [cell for row in rows for cell in row if cell and cell[0] in spreadsheet.FORMULA_STARTS]


def test_the_xlsx_export_stores_formulas_as_text_never_as_formulas(client, db, coordinator):
    ids = store_hostile_requests(client, db)
    response = client.get("/api/v1/requests/export", params={"format": "xlsx"}, headers=coordinator)
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()  # no formula anywhere
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    rows = {row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)}
    family = rows[ids[0]]["nom"]
    # Excel's own way of saying "typed with a leading quote": the text as typed, shown as text.
    assert (family.value, family.data_type, family.quotePrefix) == (HYPERLINK, "s", True)
    for row_id, name in zip(ids[1:], HOSTILE_GIVEN_NAMES, strict=True):
        cell = rows[row_id]["prénom"]
        # (XML reads a bare CR as LF: still a line break at the start, still text)
        assert (cell.value, cell.data_type, cell.quotePrefix) == (name.replace("\r", "\n"), "s", True)
    ordinary = rows[ids[0]]["prénom"]
    assert (ordinary.value, ordinary.data_type, ordinary.quotePrefix) == ("Anne", "s", False)
    assert rows[ids[0]]["numéro"].data_type == "n" and rows[ids[0]]["âge"].value == 45


def test_a_control_character_in_a_stored_name_no_longer_breaks_the_xlsx(client, db, coordinator):
    request_id = submit(client, **PATIENT).json()["id"]
    # \x00 cannot be stored by PostgreSQL; the others can, and XML forbids them all.
    family_name = "Zorglub\x01ovitch\x1f" if db.bind.dialect.name == "postgresql" else "Zorglub\x00ovitch\x0b"
    db.execute(update(PatientRequest).where(PatientRequest.id == request_id).values(family_name=family_name))
    db.commit()
    response = client.get("/api/v1/requests/export", params={"format": "xlsx"}, headers=coordinator)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[2]][4:6] == ["Zorglubovitch", "Philomène"]
    rows = csv_rows(client.get("/api/v1/requests/export", headers=coordinator))
    assert rows[1][4] == "Zorglubovitch"


def test_numbers_and_dates_stay_numbers_and_dates():
    today = date(2026, 11, 23)
    content = spreadsheet.to_xlsx("Essai", ["a", "b", "c", "d"], [[-3, 2.5, today, "-3"]])
    cells = list(load_workbook(io.BytesIO(content)).active.iter_rows(min_row=2))[0]
    assert [c.value for c in cells[:2]] == [-3, 2.5] and [c.data_type for c in cells[:2]] == ["n", "n"]
    assert cells[2].is_date and cells[2].value.date() == today
    assert (cells[3].value, cells[3].data_type, cells[3].quotePrefix) == ("-3", "s", True)  # text stays text
    assert spreadsheet.to_csv(["a", "b"], [[-3, today]]).decode("utf-8-sig").splitlines()[1] == "-3;2026-11-23"


def sign_in_as_coordinator(client, db) -> None:
    territory = db.query(Territory).filter_by(slug="grand-arras").one()
    user = create_user(
        db,
        UserCreate(
            email="coordination.indicateurs@test.example.fr",
            display_name="Coordination",
            role=Role.COORDINATOR,
            password="correct horse battery",
            cpts=[territory.slug],
        ),
        None,
    )
    db.commit()  # services leave committing to the caller
    assert user.id
    response = client.post(
        "/espace/connexion",
        data={"email": "coordination.indicateurs@test.example.fr", "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_the_indicators_csv_neutralises_source_and_commune_names(client, db):
    territory = db.query(Territory).filter_by(slug="grand-arras").one()
    db.add(Source(territory_id=territory.id, tag="pharmacie-1234", name="=cmd|' /C calc'!A0", kind="pharmacy"))
    db.commit()
    request_id = submit(client, source="pharmacie-1234").json()["id"]
    db.execute(update(PatientRequest).where(PatientRequest.id == request_id).values(commune_name="@Tilloy"))
    db.commit()
    sign_in_as_coordinator(client, db)
    rows = csv_rows(client.get("/espace/indicateurs.csv", params={"du": "2020-01-01"}))
    assert ["'@Tilloy", "1"] in rows and ["'=cmd|' /C calc'!A0", "1"] in rows
    assert ["Demandes reçues (dans le territoire)", "1"] in rows  # figures stay figures


# Logs ---------------------------------------------------------------------------------------


@pytest.fixture
def production_log():
    """What the service writes (its JSON formatter), for every logger, while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.setLevel(previous)
    root.removeHandler(handler)


@pytest.fixture
def refused_family_name(engine):
    """The database itself refuses to store a request for the family name Zorglubovitch: on
    PostgreSQL a CHECK constraint (its error quotes the whole failing row), on SQLite a trigger
    (SQLAlchemy's error would quote the statement's parameters)."""
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgres:
            connection.execute(
                text(
                    "ALTER TABLE patient_requests ADD CONSTRAINT test_refused_name "
                    "CHECK (family_name <> 'Zorglubovitch')"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER test_refused_name BEFORE INSERT ON patient_requests "
                    "WHEN NEW.family_name = 'Zorglubovitch' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    yield
    with engine.begin() as connection:
        if postgres:
            connection.execute(text("ALTER TABLE patient_requests DROP CONSTRAINT test_refused_name"))
        else:
            connection.execute(text("DROP TRIGGER test_refused_name"))


@pytest.mark.usefixtures("refused_family_name")
def test_a_database_error_at_intake_logs_no_personal_data(client, production_log):
    response = client.post("/api/v1/requests", json=answers(**PATIENT))
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "Erreur interne du service.", "fields": []}
    assert not leaks(response.text)
    log = production_log.getvalue()
    assert not leaks(log), log
    errors = [line for line in log.splitlines() if "unhandled_error" in line]
    assert len(errors) == 1
    # What it says instead: the class, the statement's name, the request id.
    assert '"error_type": "IntegrityError"' in errors[0] and '"statement": "INSERT patient_requests"' in errors[0]
    assert f'"request_id": "{response.headers["x-request-id"]}"' in errors[0]
    # The service is not left in a retry loop, and the next patient is stored.
    assert submit(client).status_code == 201


def test_an_error_during_the_export_logs_no_personal_data(client, db, coordinator, production_log):
    submit(client, **PATIENT)

    def driver_quoting_a_row(connection, cursor, statement, parameters, context, executemany):
        # As drivers do ("Failing row contains (…)", "invalid input value …"): the message
        # quotes stored values, here the patient's names and birth date.
        if "FROM patient_requests" in statement:
            quoted = ", ".join(PATIENT[k] for k in ("family_name", "given_name", "birth_date"))
            raise connection.dialect.loaded_dbapi.DataError(f"bad row ({quoted})")
        return statement, parameters

    event.listen(client.app.state.engine, "before_cursor_execute", driver_quoting_a_row, retval=True)
    try:
        response = client.get("/api/v1/requests/export", params={"format": "xlsx"}, headers=coordinator)
    finally:
        event.remove(client.app.state.engine, "before_cursor_execute", driver_quoting_a_row)
    assert response.status_code == 500 and not leaks(response.text)
    log = production_log.getvalue()
    assert not leaks(log), log
    assert '"error_type": "DataError"' in log and '"statement": "SELECT patient_requests"' in log


@pytest.mark.usefixtures("refused_family_name")
def test_a_real_server_prints_no_personal_data_after_a_database_error(database_url):
    with tempfile.TemporaryFile() as output:
        with running_server(database_url, output=output) as base:
            response = httpx.post(f"{base}/api/v1/requests", json=answers(**PATIENT), timeout=30)
            assert response.status_code == 500
            assert httpx.post(f"{base}/api/v1/requests", json=answers(), timeout=30).status_code == 201
        output.seek(0)
        printed = output.read().decode("utf-8", "replace")
    assert "unhandled_error" in printed and "INSERT patient_requests" in printed
    assert not leaks(printed), printed
    assert "Traceback" not in printed and "Exception in ASGI application" not in printed

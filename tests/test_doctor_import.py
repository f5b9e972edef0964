"""CSV import of volunteer doctors."""

import pytest

from tests.factories import DOCTORS_CSV_HEADER as HEADER
from tests.factories import doctor_csv_row as row
from tests.fakes.ban import BanAddress
from tests.helpers.cli import run

pytestmark = pytest.mark.usefixtures("demo_territories")


def upload(client, headers, text: str, encoding="utf-8", **params):
    return client.post(
        "/api/v1/doctors/import",
        params={"cpts": "grand-arras", **params},
        files={"file": ("medecins.csv", text.encode(encoding), "text/csv")},
        headers=headers,
    )


def test_import_then_import_again_changes_nothing(client, coordinator):
    text = "\n".join([HEADER, row(1), row(2, city="Tilloy-les-Mofflaines", postcode="62217")])
    first = upload(client, coordinator, text)
    assert first.status_code == 200, first.text
    assert first.json() | {"problems": []} == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "written": True,
        "problems": [],
    }
    listed = client.get("/api/v1/doctors", headers=coordinator).json()["items"]
    assert {d["locations"][0]["insee_code"] for d in listed} == {"62041", "62817"}
    assert listed[0]["availability"]["available_until"] == "2027-12-31"
    before = {d["id"]: d["updated_at"] for d in listed}
    again = upload(client, coordinator, text).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    after = {d["id"]: d["updated_at"] for d in client.get("/api/v1/doctors", headers=coordinator).json()["items"]}
    assert after == before


def test_changed_row_updates_the_doctor(client, coordinator):
    upload(client, coordinator, "\n".join([HEADER, row(1)]))
    report = upload(client, coordinator, "\n".join([HEADER, row(1, places="9")])).json()
    assert (report["created"], report["updated"]) == (0, 1)
    assert (
        client.get("/api/v1/doctors", headers=coordinator).json()["items"][0]["availability"]["capacity_remaining"] == 9
    )


def test_windows_1252_and_comma_separated_files_are_read(client, coordinator):
    text = "\r\n".join([HEADER.replace(";", ","), row(1).replace(";", ",").replace("fr, en", "fr en")])
    report = upload(client, coordinator, text, encoding="cp1252")
    assert report.json()["created"] == 1, report.text
    doctor = client.get("/api/v1/doctors", headers=coordinator).json()["items"][0]
    assert doctor["given_name"] == "Émilie"


def test_invalid_rows_are_reported_by_line_and_nothing_is_written(client, coordinator):
    text = "\n".join(
        [
            HEADER,
            row(1),
            row(2, rpps="12345678901"),
            row(3, city="Mercatel", postcode="62217"),
            row(4, email="not-an-email"),
            row(5, city="Atlantis"),
        ]
    )
    report = upload(client, coordinator, text).json()
    assert report["written"] is False and report["created"] == 0
    problems = {p["line"]: p["reason"] for p in report["problems"]}
    assert set(problems) == {3, 4, 5, 6}
    assert "clé de contrôle" in problems[3]
    assert "Mercatel (62568)" in problems[4]
    assert "e-mail" in problems[5]
    assert "62000" in problems[6]
    assert client.get("/api/v1/doctors", headers=coordinator).json()["total"] == 0


def test_skip_invalid_imports_the_valid_rows(client, coordinator):
    text = "\n".join([HEADER, row(1), row(2, rpps="12345678901")])
    report = upload(client, coordinator, text, skip_invalid=True).json()
    assert (report["created"], report["invalid"], report["written"]) == (1, 1, True)


def test_missing_columns_are_named(client, coordinator):
    response = upload(client, coordinator, "Nom;Prénom\nDupont;Jean")
    assert response.status_code == 422
    assert "RPPS" in response.json()["message"] and "Code postal" in response.json()["message"]


def test_two_rows_of_one_doctor_are_two_practices(client, coordinator):
    text = "\n".join([HEADER, row(1), row(1, city="Dainville", postcode="62000", address="2 rue Haute")])
    assert upload(client, coordinator, text).json()["created"] == 1
    doctor = client.get("/api/v1/doctors", headers=coordinator).json()["items"][0]
    assert [loc["insee_code"] for loc in doctor["locations"]] == ["62041", "62263"]


def test_import_is_for_coordinators_of_that_cpts(client, make_account):
    other = make_account("coordinator", ["provence-sante"])
    assert upload(client, other, "\n".join([HEADER, row(1)])).status_code == 403
    doctor = make_account("professional", ["grand-arras"])
    assert upload(client, doctor, "\n".join([HEADER, row(1)])).status_code == 403


def test_addresses_are_geocoded_once_then_served_from_the_cache(ban_client, fake_ban, make_account):
    fake_ban.addresses.append(
        BanAddress(
            match="place heros",
            label="1 Place des Héros 62000 Arras",
            housenumber="1",
            street="Place des Héros",
            postcode="62000",
            citycode="62041",
            city="Arras",
            lon=2.777846,
            lat=50.291002,
        )
    )
    coordinator = make_account("coordinator", ["grand-arras"])
    text = "\n".join([HEADER, row(1), row(2)])  # same address for both
    assert upload(ban_client, coordinator, text).json()["created"] == 2
    assert len(fake_ban.requests) == 1
    assert upload(ban_client, coordinator, text).json()["unchanged"] == 2
    assert len(fake_ban.requests) == 1
    doctor = ban_client.get("/api/v1/doctors", headers=coordinator).json()["items"][0]
    assert doctor["locations"][0]["precision"] == "housenumber"


def test_command_line_import(database_url, engine, tmp_path):
    path = tmp_path / "medecins.csv"
    path.write_text("\n".join([HEADER, row(1), row(2, rpps="12345678901")]), encoding="utf-8")
    refused = run(database_url, "doctors", "import", str(path), "--cpts", "grand-arras")
    assert refused.returncode == 1
    assert "line 3:" in refused.stderr and "NOTHING WRITTEN" in refused.stdout
    done = run(database_url, "doctors", "import", str(path), "--cpts", "grand-arras", "--skip-invalid")
    assert done.returncode == 0, done.stderr
    assert "1 created" in done.stdout

"""Hostile input never makes a 5xx: ids beyond the columns' range, Unicode digits in FHIR
ids, NUL bytes and lone surrogates anywhere, extreme dates, binary CSV files (issue 10, item 4)."""

import pytest

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def settings(settings):
    """/fhir is called here without the SAS's client certificate: opened on purpose (closed by
    default: test_hardening_sasauth)."""
    return settings.model_copy(update={"fhir_client_auth": "none"})


COORDINATOR_CPTS = ["grand-arras"]
REQUEST = {
    "family_name": "Durand",
    "given_name": "Lucie",
    "birth_date": "1950-03-02",
    "phone": "06 12 34 56 78",
    "postcode": "62217",
    "city": "Tilloy-lès-Mofflaines",
    "ald": True,
    "no_doctor_reason": "doctor_left",
    "consent": True,
    "cpts": "grand-arras",
}


@pytest.fixture
def coordinator(make_account) -> dict[str, str]:
    return make_account("coordinator", cpts=COORDINATOR_CPTS)


def _refused_field(response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    return body["fields"][0]["field"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/requests/2147483648", "request_id"),
        ("/api/v1/requests/99999999999999999999", "request_id"),
        ("/api/v1/doctors/2147483648", "doctor_id"),
        ("/api/v1/snp/slots/99999999999999999999", "slot_id"),
        ("/api/v1/snp/bookings/0", "booking_id"),
        ("/api/v1/snp/slots?doctor_id=2147483648", "doctor_id"),
    ],
)
def test_an_id_beyond_the_column_is_a_422_naming_it(client, coordinator, path, field):
    response = client.get(path, headers=coordinator)
    assert _refused_field(response) == field
    assert response.json()["fields"][0]["message"] in ("Valeur trop grande.", "Valeur trop petite.")


def test_an_id_beyond_the_column_in_a_body_is_a_422_naming_it(client, coordinator):
    submitted = client.post("/api/v1/requests", json=REQUEST)
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["id"]
    response = client.post(
        f"/api/v1/requests/{request_id}/send-list", json={"doctor_ids": [2**31]}, headers=coordinator
    )
    assert _refused_field(response) == "doctor_ids.0"
    offset = client.get("/api/v1/audit?offset=99999999999999999999", headers=coordinator)
    assert _refused_field(offset) == "offset"


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/HealthcareService/99999999999999999999",
        "/fhir/Organization/2147483648",
        "/fhir/Slot/%C2%B3",  # "³": str.isdigit() says yes, int() says no
        "/fhir/Slot/99999999999",
        "/fhir/Schedule/%C2%B3-1",
        "/fhir/PractitionerRole/1-99999999999999999999",
        "/fhir/Practitioner/doc-%C2%B9",
        "/fhir/Practitioner/reg-99999999999999999999",
    ],
)
def test_a_fhir_id_that_cannot_name_a_row_is_a_404_operation_outcome(client, path):
    response = client.get(path)
    assert response.status_code == 404, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "not-found"


def test_a_nul_byte_in_a_json_body_is_refused_in_french_naming_the_field(client, coordinator):
    response = client.post("/api/v1/requests", json=REQUEST | {"family_name": "Nul\u0000Byte"})
    assert _refused_field(response) == "family_name"
    assert "Caractère non autorisé" in response.json()["fields"][0]["message"]
    queue = client.get("/api/v1/requests", headers=coordinator).json()
    assert queue["total"] == 0  # nothing was stored


def test_a_lone_surrogate_in_a_json_body_is_refused_naming_the_field(client):
    body = '{"email": "a@b.fr", "password": "\\ud800"}'
    response = client.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert _refused_field(response) == "password"


def test_a_nul_byte_in_a_nested_json_field_is_named_by_its_path(client, coordinator):
    doctor = {
        "cpts": "grand-arras",
        "rpps": "10000009018",
        "family_name": "Martin",
        "given_name": "Anne",
        "locations": [{"address": "3 rue\u0000Pasteur", "postcode": "62000", "city": "Arras"}],
    }
    response = client.post("/api/v1/doctors", json=doctor, headers=coordinator)
    assert _refused_field(response) == "locations.0.address"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/communes?q=%00", "q"),
        ("/api/v1/requests?q=%00", "q"),
        ("/api/v1/doctors?cpts=grand%00arras", "cpts"),
        ("/api/v1/territories/grand%00arras", "slug"),
    ],
)
def test_a_nul_byte_in_a_query_or_path_is_refused_naming_the_parameter(client, coordinator, path, field):
    assert _refused_field(client.get(path, headers=coordinator)) == field


def test_a_nul_byte_in_a_fhir_parameter_is_a_400_operation_outcome_naming_it(client):
    """Under /fhir errors are OperationOutcomes (a FHIR request that cannot be read: 400)."""
    response = client.get("/fhir/Slot?status=fr%00ee")
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["expression"] == ["status"]


def test_a_nul_byte_in_the_sign_in_form_answers_a_french_page(client):
    response = client.post(
        "/espace/connexion",
        content=b"email=a%00b@x.fr&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Caractère non autorisé" in response.text and "email" in response.text


def test_a_body_that_is_not_json_is_a_422_not_a_400(client):
    response = client.post("/api/v1/auth/login", content=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert _refused_field(response) == "body"
    assert response.json()["message"] == "Corps de la requête illisible."


def test_a_body_multipart_cannot_read_is_a_422_on_the_api_and_a_french_page_in_the_workspace(client, coordinator):
    broken = {"Content-Type": "multipart/form-data; boundary=xyz"}
    imported = client.post(
        "/api/v1/doctors/import?cpts=grand-arras", content=b"--xyz\r\nNone--xyz--\r\n", headers=broken | coordinator
    )
    assert _refused_field(imported) == "body"
    page = client.post("/espace/connexion", content=b"--xyz\r\nNone--xyz--\r\n", headers=broken)
    assert page.status_code == 422
    assert "Le formulaire envoyé est illisible." in page.text


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=0001-01-01", "from"), ("to=9999-12-31", "to"), ("from=1899-12-31&to=2026-01-01", "from")],
)
def test_extreme_dates_of_a_period_are_refused_naming_the_field(client, coordinator, query, field):
    export = client.get(f"/api/v1/requests/export?{query}", headers=coordinator)
    assert _refused_field(export) == field
    assert export.json()["fields"][0]["message"] == "Date hors limites (entre 1900 et 2999)."
    indicators = client.get(f"/api/v1/territories/grand-arras/indicators?{query}", headers=coordinator)
    assert _refused_field(indicators) == field


def test_the_widest_accepted_period_still_answers(client, coordinator):
    query = "from=1900-01-01&to=2999-12-31"
    assert client.get(f"/api/v1/requests/export?{query}", headers=coordinator).status_code == 200
    assert client.get(f"/api/v1/territories/grand-arras/indicators?{query}", headers=coordinator).status_code == 200


def test_extreme_dates_on_the_workspace_pages_answer_a_french_page(client, coordinator):
    signed_in = client.post(
        "/espace/connexion",
        # The account the `coordinator` fixture made (make_account's naming and password).
        data={"email": "coordinator1@test.example.fr", "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    for path in (
        "/espace/indicateurs?du=0001-01-01",
        "/espace/indicateurs?au=9999-12-31",
        "/espace/journal?au=9999-12-31",
        "/espace/soins-non-programmes?jour=9999-12-31&vue=semaine",
    ):
        response = client.get(path)
        assert response.status_code == 422, path
        assert response.headers["content-type"].startswith("text/html")
        assert "Date hors limites" in response.text


@pytest.mark.parametrize(
    "content",
    [
        b"\x10\r\xc8",  # the three bytes
        b"\x81\x8d\x8f",  # neither UTF-8 nor Windows-1252
        b"Nom;Pr\xc3\xa9nom;RPPS\nMartin;Anne;1000\x000009018\n",  # a NUL inside
        b'Nom;Prenom;RPPS\n"Martin;Anne;10000009018',  # a quote never closed
    ],
)
def test_a_binary_or_undecodable_doctor_csv_is_a_french_422(client, coordinator, content):
    response = client.post(
        "/api/v1/doctors/import?cpts=grand-arras", files={"file": ("medecins.csv", content)}, headers=coordinator
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["fields"][0]["field"] == "file"
    assert body["message"].startswith("Fichier illisible") or "Colonnes manquantes" in body["message"]

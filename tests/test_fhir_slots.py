"""INT_R04: the SAS platform searches our slots (GET /fhir/Slot) and reads what they refer to."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.doctors.models import Doctor
from app.snp.models import Slot
from app.snp.rules import PARIS
from tests.fhir_conformance import problems

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def settings(settings):
    """These tests call /fhir without a client certificate (test_fhir_transport has the
    certificates; test_hardening_sasauth that the default is closed): opened on purpose."""
    return settings.model_copy(update={"fhir_client_auth": "none"})


# The guide's example query, character for character (specifications_techniques-cpts-recherche_creneaux.md).
GUIDE_QUERY = (
    "/fhir/Slot?_include=Slot:schedule&_include:iterate=Schedule:actor&_include=Slot:service-type-reference"
    "&_include:iterate=HealthcareService:organization&start=ge2024-06-12T16:20:00.000+02:00"
    "&start=le2024-06-15T16:20:00.000+02:00&schedule.actor:Practitioner.identifier="
    "urn:oid:1.2.250.1.71.4.2.1|810002909371,urn:oid:1.2.250.1.71.4.2.1|810001288385&status=free"
)
FORET = "10002909371"


def _foret(client, make_account) -> int:
    headers = make_account("coordinator", ["grand-arras"])
    body = {
        "cpts": "grand-arras",
        "rpps": FORET,
        "family_name": "Foret",
        "given_name": "Pierre",
        "email": "pierre.foret@example.fr",
        "phone": "05 61 85 59 77",
        "locations": [{"address": "25 chemin de Mounestie", "postcode": "62000", "city": "Arras"}],
    }
    response = client.post("/api/v1/doctors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _slot(db, doctor_id: int, start: datetime, minutes: int = 20, visibility: int = 1 | 8, status: str = "free") -> int:
    doctor = db.get(Doctor, doctor_id)
    slot = Slot(
        territory_id=doctor.territory_id,
        doctor_id=doctor.id,
        location_id=doctor.locations[0].id,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        kind="AMB",
        visibility=visibility,
        sas_visible=bool(visibility & 7),
        appointment_type="ROUTINE",
        status=status,
    )
    db.add(slot)
    db.commit()
    return slot.id


def _window_query(start: datetime, days: int, rpps: list[str], includes: bool = True) -> str:
    actors = ",".join(f"urn:oid:1.2.250.1.71.4.2.1|8{r}" for r in rpps)
    query = (
        f"/fhir/Slot?start=ge{quote(start.isoformat(timespec='milliseconds'))}"
        f"&start=le{quote((start + timedelta(days=days)).isoformat(timespec='milliseconds'))}"
        f"&schedule.actor:Practitioner.identifier={actors}&status=free"
    )
    if includes:
        query += (
            "&_include=Slot:schedule&_include:iterate=Schedule:actor&_include=Slot:service-type-reference"
            "&_include:iterate=HealthcareService:organization"
        )
    return query


def test_the_guides_example_query_returns_the_guides_example_bundle(client, make_account, db):
    doctor_id = _foret(client, make_account)
    _slot(db, doctor_id, datetime(2024, 6, 12, 16, 40, tzinfo=PARIS))
    response = client.get(GUIDE_QUERY, headers={"Accept": "application/json+fhir"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert problems(bundle) == []
    assert bundle["total"] == 1
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Slot", "Schedule", "Practitioner", "PractitionerRole", "HealthcareService", "Organization"]
    slot = bundle["entry"][0]["resource"]
    assert (slot["start"], slot["end"]) == ("2024-06-12T16:40:00+02:00", "2024-06-12T17:00:00+02:00")
    assert [s["code"] for s in slot["meta"]["security"]] == ["PUBLIC", "CPTS"]
    # The booking page, with the token signed for this slot that lets a regulator in.
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:8000/espace/soins-non-programmes/creneaux/{slot['id']}/reserver"
        r"\?origin=sas&sas=\d+\.[0-9a-f]{32}",
        slot["comment"],
    )
    practitioner = bundle["entry"][2]["resource"]
    assert practitioner["identifier"][0]["value"] == "810002909371"
    organization = bundle["entry"][5]["resource"]
    assert organization["identifier"][0]["value"] == "1620000018"  # 1 + the demo CPTS's FINESS


def test_the_guides_query_on_the_demo_with_a_bad_start_is_a_400_operation_outcome(client):
    bad = GUIDE_QUERY.replace("start=ge2024-06-12T16:20:00.000", "start=ge2024-13-45T16:20:00.000")
    response = client.get(bad)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error" and outcome["issue"][0]["expression"] == ["start"]


def test_the_demo_answers_the_guides_query_for_the_coming_days(client, db, demo_slots):
    assert db.scalar(select(func.count()).select_from(Slot)) > 500
    rpps = [FORET] + list(db.scalars(select(Doctor.rpps).order_by(Doctor.id).limit(24)))
    bundle = client.get(_window_query(datetime.now(PARIS), 3, rpps)).json()
    assert problems(bundle) == []
    assert bundle["total"] >= 10
    # Each included resource once, however many slots refer to it.
    schedules = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Schedule"]
    assert len(schedules) == len(
        {e["resource"]["schedule"]["reference"] for e in bundle["entry"] if e["search"]["mode"] == "match"}
    )
    assert sum(e["resource"]["resourceType"] == "Organization" for e in bundle["entry"]) == 1


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        (lambda q: q.replace("&status=free", ""), "status"),
        (lambda q: q.replace("&status=free", "&status=busy"), "status"),
        (lambda q: q.replace("start=le", "start=xx"), "start"),
        (
            lambda q: (
                q.split("&start=le")[0]
                + "&status=free&schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|810002909371"
            ),
            "start",
        ),
        (
            lambda q: q.split("&schedule.actor")[0] + "&schedule.actor:Practitioner.identifier=&status=free",
            "schedule.actor:Practitioner.identifier",
        ),
        (lambda q: q.replace("2024-06-15", "2024-08-15"), "start"),
        (lambda q: q.replace("_include=Slot:schedule", "_include=Slot:foo"), "_include"),
    ],
)
def test_a_search_that_cannot_run_says_which_parameter(client, change, expression):
    response = client.get(change(GUIDE_QUERY))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [expression]


def test_more_than_25_practitioners_is_a_400(client):
    actors = ",".join(f"urn:oid:1.2.250.1.71.4.2.1|8{10000000000 + i}" for i in range(26))
    query = GUIDE_QUERY.split("&schedule.actor")[0] + f"&schedule.actor:Practitioner.identifier={actors}&status=free"
    response = client.get(query)
    assert response.status_code == 400 and "25" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "unreadable",
    [
        "urn:oid:9.9|810002909371",  # another identifier system
        "urn:oid:1.2.250.1.71.4.2.1|ABC",  # not 8 + RPPS
        "urn:oid:1.2.250.1.71.4.2.1|0123456789",  # an ADELI number: none of our doctors
        "urn:oid:1.2.250.1.71.4.2.1|8100029093",  # too short
    ],
)
def test_an_unreadable_practitioner_identifier_matches_nothing_and_the_others_are_served(
    client, make_account, db, unreadable
):
    """The guide's query (two practitioners), one of them unreadable: 200 with the other's slots."""
    doctor_id = _foret(client, make_account)
    _slot(db, doctor_id, datetime(2024, 6, 12, 16, 40, tzinfo=PARIS))
    query = GUIDE_QUERY.replace("urn:oid:1.2.250.1.71.4.2.1|810001288385", unreadable)
    response = client.get(query)
    assert response.status_code == 200
    assert response.json()["total"] == 1 and problems(response.json()) == []
    alone = client.get(query.replace("urn:oid:1.2.250.1.71.4.2.1|810002909371,", ""))
    assert alone.status_code == 200 and alone.json()["total"] == 0


def test_unknown_practitioners_get_an_empty_bundle(client):
    response = client.get(GUIDE_QUERY)
    assert response.status_code == 200
    assert response.json()["total"] == 0 and response.json().get("entry", []) == []


def test_only_free_slots_visible_to_the_sas_are_served(client, make_account, db):
    doctor_id = _foret(client, make_account)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=4)
    served = _slot(db, doctor_id, start, visibility=4 | 8)  # SNP + CPTS
    _slot(db, doctor_id, start + timedelta(hours=1), visibility=8)  # the CPTS's own only
    _slot(db, doctor_id, start + timedelta(hours=2), status="booked")
    bundle = client.get(_window_query(start - timedelta(hours=1), 1, [FORET], includes=False)).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(served)]
    assert problems(bundle) == []


def test_without_include_parameters_only_slots_are_returned(client, make_account, db):
    doctor_id = _foret(client, make_account)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=4)
    _slot(db, doctor_id, start)
    bundle = client.get(_window_query(start - timedelta(hours=1), 1, [FORET], includes=False)).json()
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Slot"]


def test_every_reference_of_the_bundle_can_be_read(client, make_account, db, monkeypatch):
    # The booking link in each Slot.comment expires a set time after the answer: with the clock
    # held still, the search and each read sign the same link and the resources compare equal.
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr("app.fhir.endpoints.utcnow", lambda: now)
    doctor_id = _foret(client, make_account)
    start = now + timedelta(hours=4)
    _slot(db, doctor_id, start)
    bundle = client.get(_window_query(start - timedelta(hours=1), 1, [FORET])).json()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        read = client.get(f"/fhir/{resource['resourceType']}/{resource['id']}")
        assert read.status_code == 200, entry["fullUrl"]
        assert read.json() == resource
    assert client.get("/fhir/Slot/999999").json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Practitioner/doc-999999").status_code == 404


def test_the_capability_statement_says_what_we_serve(client):
    statement = client.get("/fhir/metadata").json()
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"search-type", "read"} <= {i["code"] for i in resources["Slot"]["interaction"]}
    assert {"create", "update"} <= {i["code"] for i in resources["Practitioner"]["interaction"]}


def test_the_conformance_checker_catches_a_broken_bundle(client, make_account, db):
    """The checker itself must be able to fail."""
    doctor_id = _foret(client, make_account)
    _slot(db, doctor_id, datetime(2024, 6, 12, 16, 40, tzinfo=PARIS))
    bundle = client.get(GUIDE_QUERY).json()
    bundle["entry"][0]["resource"]["meta"]["profile"] = []
    bundle["entry"][0]["resource"]["serviceType"] = bundle["entry"][0]["resource"]["serviceType"][:1]
    bundle["entry"][5]["resource"]["identifier"][0]["value"] = "620000018"
    bundle["entry"].append(bundle["entry"][1])
    found = "\n".join(problems(bundle))
    assert "meta.profile lacks" in found and "serviceType 604" in found
    assert "1+FINESS" in found and "more than once" in found


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/fhir/Patient", 404),  # a resource type we do not serve
        ("GET", "/fhir/Patient/1", 404),
        ("HEAD", "/fhir/metadata", 405),
        ("OPTIONS", "/fhir/Slot", 405),
        ("PUT", "/fhir/Practitioner/reg-1", 405),  # INT_R02 updates are conditional: PUT ?identifier=
        ("POST", "/fhir/Slot/_search", 405),
        ("DELETE", "/fhir/Practitioner", 405),
    ],
)
def test_every_error_under_fhir_is_an_operation_outcome(client, method, path, status):
    response = client.request(method, path, headers={"Accept": "application/fhir+json"})
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    if status == 405:
        assert response.headers["Allow"]
    if method != "HEAD":  # a HEAD answer has no body
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome" and "error" not in outcome
        assert outcome["issue"][0]["code"] == {404: "not-found", 405: "not-supported"}[status]


def test_errors_elsewhere_keep_the_apis_shape(client):
    assert client.get("/api/v1/nothing-here").json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("", "application/fhir+xml"),
        ("", "application/xml, text/xml"),
        ("", "application/fhir+json;q=0, application/fhir+xml"),
        ("&_format=xml", "application/fhir+json"),  # _format overrides Accept
        ("&_format=application/fhir%2Bxml", None),
        ("&_format=ttl", None),
    ],
)
def test_xml_is_refused_with_a_406_operation_outcome(client, query, accept):
    headers = {"Accept": accept} if accept else {}
    for path in (GUIDE_QUERY + query, "/fhir/metadata?" + query.lstrip("&")):
        response = client.get(path, headers=headers)
        assert response.status_code == 406, path
        assert response.json()["resourceType"] == "OperationOutcome"
        assert response.json()["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("&_format=json", "application/fhir+xml"),  # _format wins
        ("&_format=application/fhir%2Bjson", None),
        ("", "application/json+fhir"),  # as the guide writes it
        ("", "application/fhir+xml;q=0.9, application/fhir+json"),
        ("", "*/*"),
    ],
)
def test_json_is_served_however_it_is_asked_for(client, query, accept):
    headers = {"Accept": accept} if accept else {}
    response = client.get(GUIDE_QUERY + query, headers=headers)
    assert response.status_code == 200 and response.json()["resourceType"] == "Bundle"


def test_the_capability_statement_lists_json_only(client):
    formats = client.get("/fhir/metadata").json()["format"]
    assert formats and all("json" in f and "xml" not in f for f in formats)

"""The volunteer doctors registry through the API."""

from datetime import timedelta

import pytest

from app.demo_people import demo_rpps

pytestmark = pytest.mark.usefixtures("demo_territories")

RPPS = demo_rpps(901)


def doctor_body(**changes):
    body = {
        "cpts": "grand-arras",
        "rpps": RPPS,
        "civility": "MME",
        "family_name": "Vasseur",
        "given_name": "Claire",
        "email": "claire.vasseur@medecin.example.fr",
        "phone": "03 21 55 66 77",
        "locations": [
            {
                "address": "12 rue de Cambrai",
                "postcode": "62217",
                "city": "Tilloy-lès-Mofflaines",
                "wheelchair_accessible": True,
            }
        ],
        "availability": {
            "accepting_new_patients": True,
            "capacity_remaining": 10,
            "languages": ["FR", "en"],
            "home_visits": True,
            "home_visit_radius_km": 5,
        },
    }
    return {**body, **changes}


def create(client, headers, **changes):
    return client.post("/api/v1/doctors", json=doctor_body(**changes), headers=headers)


def test_coordinator_registers_a_doctor_located_in_its_cpts(client, coordinator):
    response = create(client, coordinator)
    assert response.status_code == 201, response.text
    doctor = response.json()
    assert response.headers["location"] == f"/api/v1/doctors/{doctor['id']}"
    assert doctor["specialty"] == "SM54" and doctor["specialty_label"] == "Médecine générale"
    assert doctor["phone"] == "+33321556677"
    location = doctor["locations"][0]
    assert location["insee_code"] == "62817" and location["precision"] == "municipality"
    assert location["latitude"] == pytest.approx(50.277, abs=0.01)
    assert doctor["availability"]["languages"] == ["en", "fr"]
    assert doctor["stale"] is False
    assert client.get(f"/api/v1/doctors/{doctor['id']}", headers=coordinator).json()["rpps"] == RPPS


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"rpps": "12345678901"}, "rpps", "clé de contrôle"),
        ({"rpps": "1234"}, "rpps", "11 chiffres"),
        ({"specialty": "SM99"}, "specialty", "TRE_R38"),
        ({"email": "pas-un-email"}, "email", ""),
        ({"locations": []}, "locations", ""),
    ],
)
def test_invalid_doctor_gets_a_precise_422(client, coordinator, changes, field, words):
    response = create(client, coordinator, **changes)
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["fields"]}
    assert field in errors and words in errors[field]


def test_unknown_commune_is_a_422_on_the_location(client, coordinator):
    location = {"address": "1 rue X", "postcode": "62217", "city": "Atlantis"}
    response = create(client, coordinator, locations=[location])
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "locations.0.city"
    assert {c["insee"] for c in response.json()["candidates"]} >= {"62817", "62568"}


def test_practice_outside_every_cpts_is_a_422_naming_the_commune(client, coordinator):
    location = {"address": "3 rue de la Paix", "postcode": "62217", "city": "Mercatel"}
    response = create(client, coordinator, locations=[location])
    assert response.status_code == 422
    assert response.json()["fields"] == [
        {
            "field": "locations.0.city",
            "message": "Mercatel (62568) appartient à aucune CPTS de ce service, pas à la CPTS du Grand Arras.",
        }
    ]


def test_practice_in_another_cpts_is_refused(client, coordinator):
    location = {"address": "1 avenue de la Gare", "postcode": "13790", "city": "Rousset"}
    response = create(client, coordinator, locations=[location])
    assert response.status_code == 422
    assert "CPTS Provence Santé" in response.json()["message"]


def test_same_rpps_twice_is_a_conflict(client, coordinator):
    assert create(client, coordinator).status_code == 201
    assert create(client, coordinator).status_code == 409


def test_coordinator_cannot_register_a_doctor_in_another_cpts(client, make_account):
    other = make_account("coordinator", ["provence-sante"])
    assert create(client, other).status_code == 403


def test_list_filters_and_pagination(client, coordinator, db):
    from app.core.database import utcnow
    from app.doctors.models import Doctor

    ids = []
    for n, (city, postcode, capacity) in enumerate(
        [("Arras", "62000", 0), ("Achicourt", "62217", 5), ("Dainville", "62000", 3)]
    ):
        body = doctor_body(
            rpps=demo_rpps(910 + n),
            family_name=f"Médecin{n}",
            email=f"m{n}@example.fr",
            locations=[{"address": "1 place de l'Église", "postcode": postcode, "city": city}],
            availability={"accepting_new_patients": capacity > 0, "capacity_remaining": capacity},
        )
        ids.append(client.post("/api/v1/doctors", json=body, headers=coordinator).json()["id"])
    db.get(Doctor, ids[2]).confirmed_at = utcnow() - timedelta(days=200)
    db.commit()

    def listed(**params):
        response = client.get("/api/v1/doctors", params=params, headers=coordinator)
        assert response.status_code == 200
        return response.json()

    assert listed()["total"] == 3
    assert [d["id"] for d in listed(accepting=True)["items"]] == [ids[1], ids[2]]
    assert [d["id"] for d in listed(stale=True)["items"]] == [ids[2]]
    assert [d["id"] for d in listed(commune="62004")["items"]] == [ids[1]]
    assert [d["id"] for d in listed(q="médecin1")["items"]] == [ids[1]]
    page = listed(per_page=2, page=2)
    assert page["total"] == 3 and len(page["items"]) == 1
    assert listed(cpts="provence-sante")["total"] == 0


def test_doctor_account_edits_its_own_record_and_sees_no_other(client, coordinator, make_account):
    mine = create(client, coordinator).json()
    other = create(client, coordinator, rpps=demo_rpps(902), email="autre@example.fr").json()
    doctor = make_account("doctor", ["grand-arras"], doctor_rpps=RPPS)
    changed = client.put(
        f"/api/v1/doctors/{mine['id']}/availability",
        json={"accepting_new_patients": True, "capacity_remaining": 3, "priority_only": True},
        headers=doctor,
    )
    assert changed.status_code == 200
    assert changed.json()["availability"]["capacity_remaining"] == 3
    assert changed.json()["confirmed_at"] >= mine["confirmed_at"]
    assert client.get(f"/api/v1/doctors/{other['id']}", headers=doctor).status_code == 404
    assert (
        client.patch(f"/api/v1/doctors/{other['id']}", json={"phone": "0321000000"}, headers=doctor).status_code == 404
    )
    assert [d["id"] for d in client.get("/api/v1/doctors", headers=doctor).json()["items"]] == [mine["id"]]
    assert client.post(f"/api/v1/doctors/{mine['id']}/deactivate", headers=doctor).status_code == 403


def test_deactivated_doctor_leaves_the_default_list(client, coordinator):
    doctor = create(client, coordinator).json()
    assert client.post(f"/api/v1/doctors/{doctor['id']}/deactivate", headers=coordinator).json()["active"] is False
    assert client.get("/api/v1/doctors", headers=coordinator).json()["total"] == 0
    assert client.get("/api/v1/doctors", params={"active": False}, headers=coordinator).json()["total"] == 1


def test_changes_to_a_doctor_are_in_the_audit_trail_without_personal_data(client, coordinator, make_account):
    doctor = create(client, coordinator).json()
    client.patch(f"/api/v1/doctors/{doctor['id']}", json={"phone": "03 21 00 00 09"}, headers=coordinator)
    trail = client.get("/api/v1/audit", params={"object_type": "doctor"}, headers=coordinator).json()
    assert [e["action"] for e in trail] == ["doctor.update", "doctor.create"]
    assert trail[0]["object_id"] == str(doctor["id"]) and trail[0]["actor_role"] == "coordinator"
    assert trail[0]["client_address"] == "testclient"
    flat = str(trail)
    assert "Vasseur" not in flat and "Claire" not in flat and "0321" not in flat
    # Another CPTS's coordinator does not read it; an admin does.
    other = make_account("coordinator", ["provence-sante"])
    assert client.get("/api/v1/audit", params={"object_type": "doctor"}, headers=other).json() == []
    assert len(client.get("/api/v1/audit", headers=make_account("admin")).json()) >= 2


def test_audit_trail_cannot_be_rewritten_on_postgresql(engine, client, coordinator):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    if engine.dialect.name != "postgresql":
        pytest.skip("enforced by a PostgreSQL trigger")
    create(client, coordinator)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'someone else'"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))

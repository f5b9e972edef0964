"""Creating and reading CPTS territories through the API."""

import pytest

NEW_CPTS = {
    "slug": "artois-lys",
    "name": "CPTS Artois Lys",
    "finess": "620000026",
    "phone": "03.21.11.22.33",
    "email": "contact@cpts-artois-lys.example.fr",
    "communes": ["62119", {"postcode": "62400", "name": "Essars"}],
}


def create(client, headers, **changes):
    return client.post("/api/v1/territories", json={**NEW_CPTS, **changes}, headers=headers)


def test_create_from_insee_codes_and_postcode_name_pairs(client, admin_headers):
    response = create(client, admin_headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/territories/artois-lys"
    body = response.json()
    assert [c["insee"] for c in body["communes"]] == ["62119", "62310"]  # Béthune, Essars
    assert body["phone"] == "+33321112233"
    assert body["population"] > 20000
    # Committed: another request sees it.
    again = client.get("/api/v1/territories/artois-lys")
    assert again.status_code == 200
    assert again.json()["name"] == "CPTS Artois Lys"


@pytest.mark.usefixtures("demo_territories")
def test_overlap_with_another_cpts_is_refused_naming_the_shared_communes(client, admin_headers):
    response = create(client, admin_headers, communes=["62119", "62041", "62004"])
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert "Arras 62041" in body["message"] and "Achicourt 62004" in body["message"]
    assert "CPTS du Grand Arras" in body["message"]
    assert {o["insee"] for o in body["overlapping"]} == {"62041", "62004"}
    assert client.get("/api/v1/territories/artois-lys").status_code == 404


@pytest.mark.usefixtures("demo_territories")
def test_same_slug_or_finess_twice_is_a_conflict(client, admin_headers):
    assert create(client, admin_headers, slug="grand-arras").status_code == 409
    assert create(client, admin_headers, finess="620000018").status_code == 409


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"finess": "620000019"}, "finess"),  # wrong key
        ({"finess": "62000"}, "finess"),
        ({"phone": "12"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"slug": "Grand Arras"}, "slug"),
        ({"communes": []}, "communes"),
        ({"communes": ["99999"]}, "communes.0"),
        ({"communes": [{"postcode": "62217", "name": "Arras"}]}, "communes.0"),
    ],
)
def test_invalid_territory_is_refused_with_the_field(client, admin_headers, changes, field):
    response = create(client, admin_headers, **changes)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["fields"]]


def test_pair_that_does_not_exist_names_the_postcodes_communes(client, admin_headers):
    response = create(client, admin_headers, communes=[{"postcode": "62217", "name": "Arras"}])
    assert "Mercatel (62568)" in response.json()["fields"][0]["message"]


def test_writes_need_an_admin(client, make_account, demo_territories):
    assert create(client, {}).status_code == 401
    assert create(client, {"Authorization": "Bearer wrong"}).status_code == 401
    assert client.patch("/api/v1/territories/x", json={"name": "Nouveau nom"}).status_code == 401
    coordinator = make_account("coordinator", ["grand-arras"])
    assert create(client, coordinator).status_code == 403


@pytest.mark.usefixtures("demo_territories")
def test_update_communes_refuses_overlap_and_keeps_its_own(client, admin_headers):
    url = "/api/v1/territories/provence-sante"
    taken = client.patch(url, json={"communes": ["13087", "62041"]}, headers=admin_headers)
    assert taken.status_code == 409
    kept = client.patch(url, json={"communes": ["13087", "13025"]}, headers=admin_headers)
    assert kept.status_code == 200
    assert [c["insee"] for c in kept.json()["communes"]] == ["13087", "13025"]
    # The freed communes can now join another CPTS.
    assert create(client, admin_headers, communes=["13041"]).status_code == 201


@pytest.mark.usefixtures("demo_territories")
def test_demo_territories_have_their_exact_communes(client):
    body = {t["slug"]: t for t in client.get("/api/v1/territories").json()}
    assert len(body["grand-arras"]["communes"]) == 32
    assert {c["insee"] for c in body["provence-sante"]["communes"]} == {
        "13019",
        "13015",
        "13107",
        "13041",
        "13062",
        "13046",
        "13060",
        "13040",
        "13025",
        "13087",
        "13072",
        "13110",
    }


def test_unknown_territory_is_404(client):
    response = client.get("/api/v1/territories/nowhere")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_concurrent_creations_of_overlapping_cpts_let_exactly_one_in(settings, engine, admin_headers):
    """Two coordinators claiming the same commune at once: the database decides."""
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(settings)
    headers = admin_headers
    bodies = [
        {**NEW_CPTS, "slug": f"cpts-{i}", "finess": finess, "communes": ["62119"]}
        for i, finess in enumerate(["620000026", "620000034", "620000042", "620000059"])
    ]
    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        statuses = sorted(
            pool.map(lambda b: client.post("/api/v1/territories", json=b, headers=headers).status_code, bodies)
        )
    app.state.engine.dispose()
    assert statuses == [201, 409, 409, 409]

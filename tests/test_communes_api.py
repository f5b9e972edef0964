"""The commune picker of the forms."""


def test_communes_of_a_postcode(client):
    response = client.get("/api/v1/communes", params={"postcode": "13790"})
    assert response.status_code == 200
    names = {c["name"] for c in response.json()}
    assert {"Rousset", "Châteauneuf-le-Rouge"} <= names


def test_search_by_name_start(client):
    response = client.get("/api/v1/communes", params={"q": "tilloy les moff"})
    assert response.status_code == 200
    assert response.json()[0]["insee"] == "62817"


def test_search_limit_is_respected(client):
    response = client.get("/api/v1/communes", params={"q": "saint", "limit": 5})
    assert len(response.json()) == 5


def test_search_needs_a_postcode_or_a_query(client):
    response = client.get("/api/v1/communes")
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "q"


def test_malformed_postcode_is_refused(client):
    response = client.get("/api/v1/communes", params={"postcode": "13"})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "postcode"


def test_unknown_postcode_gives_an_empty_list(client):
    assert client.get("/api/v1/communes", params={"postcode": "00000"}).json() == []

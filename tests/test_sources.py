"""Sources of requests: QR codes, flyers, and how many requests each brought."""

import pytest

from tests.factories import form

pytestmark = pytest.mark.usefixtures("demo_territories")


def test_a_source_gets_a_qr_code_a_flyer_and_counts_its_requests(client, coordinator):
    created = client.post(
        "/api/v1/sources",
        json={"cpts": "grand-arras", "name": "Pharmacie de la Gare", "kind": "pharmacy"},
        headers=coordinator,
    )
    assert created.status_code == 201, created.text
    source = created.json()
    assert source["tag"].startswith("pharmacie-de-la-gare-")
    assert source["form_url"] == f"http://127.0.0.1:8000/?source={source['tag']}"

    svg = client.get(f"/api/v1/sources/{source['id']}/qr.svg", headers=coordinator)
    assert svg.headers["content-type"] == "image/svg+xml" and svg.text.lstrip().startswith("<svg")
    png = client.get(f"/api/v1/sources/{source['id']}/qr.png", headers=coordinator)
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"

    flyer = client.get(f"/api/v1/sources/{source['id']}/flyer", headers=coordinator)
    assert "CPTS du Grand Arras" in flyer.text and "03 21 00 00 01" in flyer.text
    # Printed on A5, by its own stylesheet (no inline style under the Content-Security-Policy).
    assert '<link rel="stylesheet" href="/static/public/flyer.css">' in flyer.text
    assert "size: A5" in client.get("/static/public/flyer.css").text
    assert "<svg" in flyer.text

    # The form opened from the QR code is the CPTS's, and its requests are counted.
    page = client.get("/", params={"source": source["tag"]})
    assert "CPTS du Grand Arras" in page.text and f'value="{source["tag"]}"' in page.text
    client.post("/", data=form(source=source["tag"], cpts=""))
    client.post("/", data=form(source=source["tag"], cpts="", given_name="Paul"))
    [listed] = client.get("/api/v1/sources", headers=coordinator).json()
    assert listed["requests"] == 2
    queue = client.get("/api/v1/requests", params={"source": source["tag"]}, headers=coordinator).json()
    assert queue["total"] == 2 and queue["items"][0]["source"] == "Pharmacie de la Gare"


def test_sources_of_another_cpts_are_not_visible(client, coordinator, make_account):
    other = make_account("coordinator", ["provence-sante"])
    source = client.post(
        "/api/v1/sources", json={"cpts": "provence-sante", "name": "Mairie de Rousset"}, headers=other
    ).json()
    assert client.get("/api/v1/sources", headers=coordinator).json() == []
    assert client.get(f"/api/v1/sources/{source['id']}/qr.svg", headers=coordinator).status_code == 404
    assert (
        client.post(
            "/api/v1/sources", json={"cpts": "provence-sante", "name": "X source"}, headers=coordinator
        ).status_code
        == 403
    )

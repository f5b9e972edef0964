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


def test_a_source_is_edited_then_retired_and_its_qr_code_says_the_campaign_ended(client, coordinator, db):
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.requests.models import PatientRequest

    source = client.post(
        "/api/v1/sources", json={"cpts": "grand-arras", "name": "Mairie de Dainville"}, headers=coordinator
    ).json()
    assert client.post("/", data=form(source=source["tag"], cpts="")).status_code == 200

    refused = client.post(
        f"/espace/sources/{source['id']}", data={"name": "M", "kind": "town_hall"}, headers=coordinator
    )
    assert refused.status_code == 422 and 'id="name-error">Nom du lieu : ' in refused.text
    assert 'value="M"' in refused.text  # as typed
    edited = client.post(
        f"/espace/sources/{source['id']}",
        data={"name": "Mairie de Dainville, accueil", "kind": "town_hall", "details": "Affiche près du guichet"},
        headers=coordinator,
        follow_redirects=False,
    )
    assert edited.status_code == 303
    [listed] = client.get("/api/v1/sources", headers=coordinator).json()
    assert (listed["name"], listed["kind"], listed["tag"]) == (
        "Mairie de Dainville, accueil",
        "town_hall",
        source["tag"],
    )

    retired = client.post(f"/espace/sources/{source['id']}/retirer", headers=coordinator, follow_redirects=False)
    assert retired.status_code == 303
    again = client.post(f"/espace/sources/{source['id']}/retirer", headers=coordinator, follow_redirects=True)
    assert "déjà retirée" in again.text

    # The QR code still opens a page: the campaign ended, the questionnaire is one link away.
    ended = client.get("/", params={"source": source["tag"]})
    assert ended.status_code == 200 and "Cette campagne d'affichage est terminée" in ended.text
    assert 'href="/?cpts=grand-arras"' in ended.text and "Mairie de Dainville, accueil" in ended.text
    assert 'name="family_name"' not in ended.text
    # A form posted through it (opened before the retirement) lands in its CPTS, credited to nobody.
    assert client.post("/", data=form(source=source["tag"], cpts="", given_name="Paul")).status_code == 200
    db.rollback()
    paul = db.scalars(select(PatientRequest).where(PatientRequest.given_name == "Paul")).one()
    assert paul.territory.slug == "grand-arras" and paul.source_id is None

    page = client.get("/espace/sources", headers=coordinator)
    active, retired_part = page.text.split('id="retired-sources"')
    assert "Mairie de Dainville" not in active and "Mairie de Dainville, accueil" in retired_part
    # Its past request is still counted, in the list and in the indicators.
    assert client.get("/api/v1/sources", headers=coordinator).json()[0]["requests"] == 1
    figures = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator).json()
    assert figures["by_source"]["Mairie de Dainville, accueil"] == 1
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "source")).all()
    assert actions == ["source.create", "source.update", "source.retire"]

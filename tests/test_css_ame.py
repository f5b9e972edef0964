"""CSS and AME, two questions of the questionnaire (each oui / non / je ne sais pas): either gives
the priority of the CSS group (one rule, app.requests.priority), the ACI figures split CSS / AME /
"CSS or AME, unknown which" — what a request older than the two questions answered."""

import pytest
from sqlalchemy import select, text

from app.core import migrations
from app.requests.models import PatientRequest
from tests.factories import form, submit

pytestmark = pytest.mark.usefixtures("demo_territories")


def test_the_questionnaire_asks_css_and_ame_apart_in_accessible_french(client):
    page = client.get("/", params={"cpts": "grand-arras"}).text
    assert "<legend>Avez-vous la Complémentaire santé solidaire (CSS) ?</legend>" in page
    assert "<legend>Avez-vous l'Aide médicale de l'État (AME) ?</legend>" in page
    for name in ("css", "ame"):
        for value, label in (("yes", "Oui"), ("no", "Non"), ("unknown", "Je ne sais pas")):
            assert f'id="{name}_{value}" name="{name}" value="{value}"' in page
            assert f'<label for="{name}_{value}">{label}</label>' in page
    assert 'name="css_or_ame"' not in page


@pytest.mark.parametrize(
    ("css", "ame", "priority"),
    [("no", "yes", "yes"), ("yes", "no", "yes"), ("no", "no", "no"), ("unknown", "no", "unknown")],
)
def test_either_answer_gives_the_priority_of_the_css_group(client, db, css, ame, priority):
    response = client.post("/", data=form(css=css, ame=ame))
    assert response.status_code == 200, response.text
    request = db.scalars(select(PatientRequest)).one()
    assert (request.css, request.ame, request.css_or_ame) == (css, ame, priority)


def test_the_api_takes_the_two_answers_and_still_the_one_of_older_clients(client, coordinator):
    both = submit(client, css="no", ame="yes").json()
    assert both["status"] == "received"
    read = client.get(f"/api/v1/requests/{both['id']}", headers=coordinator).json()
    assert (read["css"], read["ame"], read["css_or_ame"]) == ("no", "yes", "yes")
    assert "css" in read["priority"]["groups"]
    older = submit(client, given_name="Paul", css_or_ame="yes").json()
    read = client.get(f"/api/v1/requests/{older['id']}", headers=coordinator).json()
    assert (read["css"], read["ame"], read["css_or_ame"]) == ("unknown", "unknown", "yes")
    refused = submit(client, given_name="Zoé", ame="peut-être")
    assert refused.status_code == 422 and "ame" in refused.text


def test_the_aci_figures_split_css_ame_and_unknown_which(client, coordinator):
    for name, answers in (
        ("Claire", {"css": "yes", "ame": "no"}),
        ("Amine", {"css": "no", "ame": "yes"}),
        ("Ancien", {"css_or_ame": "yes"}),
        ("Rien", {"css": "no", "ame": "no"}),
    ):
        assert submit(client, given_name=name, **answers).status_code == 201
    body = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator).json()
    split = body["received_by_group"]
    assert (split["css"], split["css_yes"], split["ame_yes"], split["css_or_ame_unknown_which"]) == (3, 1, 1, 1)
    page = client.get("/espace/indicateurs", headers=coordinator).text
    assert '<th scope="row">… … dont AME (aide médicale de l&#39;État)</th><td class="num">1</td>' in page
    csv = client.get("/espace/indicateurs.csv", headers=coordinator).text
    assert "… … dont CSS ou AME, sans savoir laquelle;1" in csv
    export = client.get("/api/v1/requests/export?cpts=grand-arras", headers=coordinator).text
    assert "CSS/AME (priorité);CSS;AME" in export


def test_the_migration_keeps_the_one_answer_as_css_or_ame_unknown_which(client, db, database_url, engine):
    ids = [submit(client, given_name=n, css_or_ame=a).json()["id"] for n, a in (("Oui", "yes"), ("Non", "no"))]
    db.commit()
    migrations.downgrade("0024", database_url=database_url)  # the revision before 0025
    try:
        with engine.begin() as connection:
            columns = set(connection.execute(text("SELECT * FROM patient_requests")).keys())
            assert "css_or_ame" in columns and "css" not in columns and "ame" not in columns
    finally:
        migrations.upgrade("head", database_url=database_url)
    rows = {r.id: (r.css, r.ame, r.css_or_ame) for r in db.scalars(select(PatientRequest))}
    assert rows == {ids[0]: ("unknown", "unknown", "yes"), ids[1]: ("no", "no", "no")}

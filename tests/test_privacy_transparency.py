"""Transparency (issue 13, item 3): the "Confidentialité" page built from the deployment's
settings, linked from every public page and message; the consent text versioned, and the
version accepted stored with every new request, whichever way it came in."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.settings import Settings
from app.main import create_app
from app.notifications.models import OutboxMessage
from app.privacy.consent import consent_version
from app.requests.models import PatientRequest
from tests import factories
from tests.browser import assert_accessible, chromium_page, require_browser, running_server
from tests.helpers.workspace import PROFESSIONAL, csrf_of, sign_in


def _version_of(db, family_name: str) -> str | None:
    db.rollback()  # a fresh snapshot: the app committed since
    return db.scalars(select(PatientRequest.consent_version).where(PatientRequest.family_name == family_name)).one()


def test_the_questionnaire_stores_the_version_of_the_text_it_showed(client, db, demo_territories, settings):
    page = client.get("/?cpts=grand-arras").text
    shown = re.search(r'name="consent_version" value="([^"]+)"', page).group(1)
    assert shown == consent_version(settings) == "2026-11/12m"
    assert "effacées un an après la clôture" in page

    response = client.post("/", data=factories.form(family_name="Questionnaire", consent_version=shown))

    assert response.status_code == 200, response.text
    assert _version_of(db, "Questionnaire") == shown


def test_a_form_opened_before_the_text_changed_is_sent_back_to_be_read_again(client, db, demo_territories):
    response = client.post("/", data=factories.form(family_name="Perime", consent_version="2025-01/12m"))

    assert response.status_code == 422
    assert "information a changé depuis l" in response.text
    assert 'id="consent" name="consent" value="yes" checked' not in response.text  # to tick again
    assert db.scalars(select(PatientRequest).where(PatientRequest.family_name == "Perime")).all() == []


def test_the_api_stores_the_current_version_or_refuses_another(client, db, demo_territories, settings):
    assert factories.submit(client, family_name="Sansversion").status_code == 201
    assert _version_of(db, "Sansversion") == consent_version(settings)

    given = factories.submit(client, family_name="Avecversion", consent_version=consent_version(settings))
    assert given.status_code == 201
    assert _version_of(db, "Avecversion") == consent_version(settings)

    stale = factories.submit(client, family_name="Ancienne", consent_version="1999-01/12m")
    assert stale.status_code == 422
    assert [f["field"] for f in stale.json()["fields"]] == ["consent_version"]


def test_the_professionals_form_stores_the_version_it_attested(client, db, demo, settings):
    sign_in(client, PROFESSIONAL)
    page = client.get("/espace/mes-demandes/nouvelle").text
    shown = re.search(r'name="consent_version" value="([^"]+)"', page).group(1)
    assert "atteste que le patient accepte" in page and "effacées un an après la clôture" in page
    values = factories.form(family_name="Pharmacie", consent_version=shown)
    values |= {"patient_consent_attested": "yes", "csrf_token": csrf_of(page)}

    response = client.post("/espace/mes-demandes/nouvelle", data=values, follow_redirects=False)

    assert response.status_code == 303, response.text
    assert _version_of(db, "Pharmacie") == shown == consent_version(settings)


def test_a_resubmission_records_the_version_agreed_to_again(client, db, demo_territories, settings):
    assert factories.submit(client, family_name="Deuxfois").status_code == 201
    db.execute(
        PatientRequest.__table__.update()
        .where(PatientRequest.family_name == "Deuxfois")
        .values(consent_version=None)  # as if received before the text was versioned
    )
    db.commit()

    assert factories.submit(client, family_name="Deuxfois").status_code == 200  # the same person again
    assert _version_of(db, "Deuxfois") == consent_version(settings)


@pytest.fixture
def configured(settings: Settings, engine) -> TestClient:
    """A deployment that set its own periods and contacts."""
    app = create_app(
        settings.model_copy(
            update={
                "retention_closed_request_months": 18,
                "retention_abandoned_request_months": 6,
                "retention_snp_booking_months": 4,
                "retention_outbox_days": 45,
                "retention_audit_months": 60,
                "retention_account_inactive_months": 36,
                "retention_account_erase_months": 6,
                "privacy_dpo_contact": "dpo@cpts-grand-arras.example.fr",
                "privacy_host": "Hébergeur Santé SAS, certifié HDS, Roubaix",
                "privacy_controller_address": "12 rue Ernestale, 62000 Arras",
            }
        )
    )
    with TestClient(app) as test_client:
        yield test_client


def _retention_rows(html: str) -> dict[str, str]:
    table = html[html.index('id="retention"') :]
    table = table[: table.index("</table>")]
    return dict(re.findall(r'<th scope="row">([^<]+)</th><td>([^<]+)</td>', table))


def test_the_privacy_page_shows_the_configured_periods_and_contacts(configured, demo_territories):
    response = configured.get("/confidentialite?cpts=grand-arras")

    assert response.status_code == 200
    html = response.text
    assert _retention_rows(html) == {
        "Demande de médecin traitant aboutie ou close": "18 mois après sa clôture ; "
        "seuls des faits anonymes sont gardés pour les indicateurs",
        "Demande hors territoire, retirée ou restée sans réponse": "6 mois après son dernier événement",
        "Rendez-vous de soins non programmés": "4 mois après le rendez-vous",
        "Destinataire et contenu des e-mails et SMS envoyés": "45 jours après leur envoi (ou leur échec définitif)",
        "Journal d&#39;audit (sans données personnelles de santé)": "5 ans",
        "Comptes des professionnels": "désactivés après 3 ans sans connexion, effacés 6 mois plus tard",
    }
    controller = re.search(r'id="controller">(.*?)</dd>', html, re.S).group(1)
    assert "CPTS du Grand Arras" in controller and "12 rue Ernestale, 62000 Arras" in controller
    assert "dpo@cpts-grand-arras.example.fr" in re.search(r'id="dpo">(.*?)</dd>', html, re.S).group(1)
    assert "certifié HDS, Roubaix" in html
    assert "https://www.cnil.fr/fr/adresser-une-plainte" in html
    # The consent text the page quotes promises the configured period, under its own version.
    assert re.search(r'id="consent-version">([^<]+)<', html).group(1) == "2026-11/18m"
    assert "effacées 18 mois après la clôture" in html
    # …and is the one the questionnaire shows and posts back.
    form = configured.get("/?cpts=grand-arras").text
    assert 'name="consent_version" value="2026-11/18m"' in form and "effacées 18 mois après" in form


def test_the_privacy_page_has_defaults_without_a_cpts(client):
    html = client.get("/confidentialite").text
    rows = _retention_rows(html)
    assert rows["Demande de médecin traitant aboutie ou close"].startswith("un an après sa clôture")
    assert rows["Demande hors territoire, retirée ou restée sans réponse"] == "3 mois après son dernier événement"
    assert rows["Journal d&#39;audit (sans données personnelles de santé)"] == "3 ans"
    assert "La CPTS de votre territoire" in html
    assert client.get("/confidentialite?cpts=inconnue").status_code == 200  # the deployment's notice
    assert client.get("/confidentialite?cpts=" + "x" * 65).status_code == 422


def test_every_public_page_links_the_privacy_page(client, db, demo):
    submitted = factories.submit(client, family_name="Liens").json()
    pages = {
        "questionnaire": client.get("/?cpts=grand-arras"),
        "follow-up": client.get(submitted["follow_up_url"].removeprefix("http://127.0.0.1:8000")),
        "invalid link": client.get("/suivi/inconnu"),
        "sign-in": client.get("/espace/connexion"),
        "privacy": client.get("/confidentialite"),
    }
    for name, page in pages.items():
        assert re.search(r'<a href="/confidentialite(\?cpts=grand-arras)?">Confidentialité', page.text), name
    assert 'href="/confidentialite?cpts=grand-arras"' in pages["questionnaire"].text


def test_every_message_template_ends_with_the_privacy_link():
    from app.core.links import current_base_url
    from app.notifications.templates import render

    doctors = [{"name": "Dr A", "address": "1 rue", "commune": "Arras", "phone": None, "distance": None}]
    common = {"given_name": "X", "territory": "CPTS", "territory_phone": "03 21 00 00 00"}
    messages = {
        "doctor_list": {"doctors": doctors},
        "outcome": {
            "status": "matched",
            "doctor": {"name": "Dr A", "address": "1 rue", "commune": "Arras", "phone": None},
            "closed_because": None,
        },
        "snp_booking": {"when": "lundi", "who": "Dr A", "where": "Arras", "cancelled": False},
        "receipt": {"follow_up_url": "https://cpts.example.fr/suivi/x", "by": None},
    }
    token = current_base_url.set("https://cpts.example.fr")  # as while serving a request
    try:
        for kind, context in messages.items():
            for channel in ("sms", "email"):
                body = render(kind, channel, **common, **context)[1]
                assert body.rstrip().endswith("https://cpts.example.fr/confidentialite"), (kind, channel, body)
        for kind, context in (("doctor_reminder", {"family_name": "A", "link": "l", "days": 30}),):
            body = render(kind, "email", territory="CPTS", territory_phone=None, **context)[1]
            assert body.rstrip().endswith("https://cpts.example.fr/confidentialite")
    finally:
        current_base_url.reset(token)


def test_a_message_sent_through_the_outbox_links_the_privacy_page(client, db, demo, coordinator):
    request_id = factories.submit(client, family_name="Message").json()["id"]
    suggestions = client.get(f"/api/v1/requests/{request_id}/suggestions", headers=coordinator).json()
    doctor_ids = [d["doctor_id"] for d in suggestions["doctors"][:2]]
    sent = client.post(f"/api/v1/requests/{request_id}/send-list", json={"doctor_ids": doctor_ids}, headers=coordinator)
    assert sent.status_code in (200, 201, 202), sent.text

    db.rollback()
    bodies = db.scalars(
        select(OutboxMessage.body).where(OutboxMessage.request_id == request_id).order_by(OutboxMessage.id)
    ).all()
    assert [b.rstrip().rsplit(" ", 1)[-1] for b in bodies] == [
        "http://127.0.0.1:8000/confidentialite"
    ] * 2  # receipt, list


def test_the_privacy_page_on_a_phone_with_a_screen_reader(database_url, demo_territories):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        page.goto(f"{base}/?cpts=grand-arras")
        page.get_by_role("link", name="Confidentialité et données personnelles").click()
        page.wait_for_load_state()
        assert page.url.endswith("/confidentialite?cpts=grand-arras")
        assert page.get_by_role("heading", level=1).inner_text() == "Confidentialité et données personnelles"
        assert (
            page.get_by_role("row", name=re.compile("Demande hors territoire"))
            .inner_text()
            .endswith("3 mois après son dernier événement")
        )
        # Nothing wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert_accessible(page, "confidentialite")

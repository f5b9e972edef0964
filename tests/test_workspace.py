"""The workspace pages through the HTTP client: sign-in, sessions, CSRF, scoping, actions."""

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import select, update

from app.accounts.models import WebSession
from app.audit.models import AuditEvent
from app.core.database import utcnow
from app.demo_people import DEMO_PASSWORD
from app.doctors.models import Doctor
from app.notifications.gsm import cost
from app.notifications.models import OutboxMessage
from app.requests.models import PatientRequest
from tests.helpers.workspace import (
    COORDINATOR,
    DOCTOR,
    PROFESSIONAL,
    csrf_of,
    flash_of,
    queue_ids,
    sign_in,
)


def test_nobody_signed_in_is_sent_to_the_sign_in_page_and_back(client, demo):
    response = client.get("/espace/demandes?statut=toutes", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/espace/connexion?suite=/espace/demandes%3Fstatut%3Dtoutes"
    page = client.get(response.headers["location"])
    assert 'name="suite" value="/espace/demandes?statut=toutes"' in page.text
    signed = client.post(
        "/espace/connexion",
        data={"email": COORDINATOR, "password": DEMO_PASSWORD, "suite": "/espace/demandes?statut=toutes"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/espace/demandes?statut=toutes"
    assert "orientation_session" in signed.cookies


def test_sign_in_never_sends_elsewhere(client, demo):
    signed = client.post(
        "/espace/connexion",
        data={"email": COORDINATOR, "password": DEMO_PASSWORD, "suite": "//evil.example/espace"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/espace/demandes"


def test_a_wrong_password_is_said_in_french_and_slows_down_after_five(client, demo):
    now = utcnow()
    client.app.state.clock = lambda: now
    for _ in range(5):
        response = client.post("/espace/connexion", data={"email": COORDINATOR, "password": "faux"})
        assert response.status_code == 401
        assert "Adresse e-mail ou mot de passe incorrect." in response.text
    locked = client.post("/espace/connexion", data={"email": COORDINATOR, "password": DEMO_PASSWORD})
    assert locked.status_code == 429
    assert "Trop de tentatives" in locked.text


def test_an_expired_session_goes_back_to_sign_in(client, db, demo):
    sign_in(client, COORDINATOR)
    db.execute(update(WebSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.commit()
    response = client.get("/espace/demandes", follow_redirects=False)
    assert response.status_code == 303
    assert "expiree=1" in response.headers["location"]
    assert "Votre session a expiré" in client.get(response.headers["location"]).text


def test_signing_out_ends_the_session(client, db, demo):
    sign_in(client, COORDINATOR)
    page = client.get("/espace/demandes")
    response = client.post("/espace/deconnexion", data={"csrf_token": csrf_of(page.text)})
    assert "Vous êtes déconnecté." in response.text
    assert db.scalars(select(WebSession)).all() == []
    assert client.get("/espace/demandes", follow_redirects=False).status_code == 303


def test_a_form_without_the_sessions_csrf_token_is_refused(client, db, demo):
    sign_in(client, COORDINATOR)
    request_id = queue_ids(client.get("/espace/demandes").text)[0]
    for token in (None, "forged"):
        data = {"text": "note"} | ({"csrf_token": token} if token else {})
        response = client.post(f"/espace/demandes/{request_id}/notes", data=data)
        assert response.status_code == 403
        assert "Formulaire expiré" in response.text
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "request.note")).all() == []


def test_the_queue_puts_the_most_urgent_first_with_its_reasons(client, demo):
    sign_in(client, COORDINATOR)
    page = client.get("/espace/demandes")
    assert page.status_code == 200
    api = client.get("/api/v1/requests?cpts=grand-arras&per_page=50").json()["items"]
    assert queue_ids(page.text) == [item["id"] for item in api]  # the service's order, not the page's own
    assert "Prioritaire : " in page.text and 'class="badge ald"' in page.text


def test_queue_filters_and_search(client, db, demo):
    sign_in(client, COORDINATOR)
    someone = db.scalars(
        select(PatientRequest).where(PatientRequest.status == "received").order_by(PatientRequest.id)
    ).first()
    found = client.get(f"/espace/demandes?q={someone.family_name.lower()}").text
    assert someone.id in queue_ids(found)
    closed = client.get("/espace/demandes?statut=closed").text
    assert queue_ids(closed) and all(db.get(PatientRequest, i).status == "closed" for i in queue_ids(closed))
    by_source = client.get("/espace/demandes?source=pharmacie-de-la-gare-demo&statut=toutes").text
    assert all(db.get(PatientRequest, i).source.tag == "pharmacie-de-la-gare-demo" for i in queue_ids(by_source))
    assert client.get("/espace/demandes?statut=nimporte&commune=zzzzz&page=3").status_code == 200
    assert client.get("/espace/demandes?page=zero").status_code == 422


def test_reading_a_request_is_audited(client, db, demo):
    sign_in(client, COORDINATOR)
    request_id = queue_ids(client.get("/espace/demandes").text)[0]
    assert client.get(f"/espace/demandes/{request_id}").status_code == 200
    reads = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "read", AuditEvent.object_id == str(request_id))
    ).all()
    assert len(reads) >= 2  # on the queue, then its page


def test_another_cptss_request_is_a_404_page(client, db, demo):
    other = db.scalars(select(PatientRequest).where(PatientRequest.territory.has(slug="provence-sante"))).first()
    sign_in(client, COORDINATOR)
    response = client.get(f"/espace/demandes/{other.id}")
    assert response.status_code == 404
    assert "Demande introuvable." in response.text and "<html" in response.text
    token = csrf_of(client.get("/espace/demandes").text)
    assert client.post(f"/espace/demandes/{other.id}/notes", data={"csrf_token": token, "text": "x"}).status_code == 404


def test_the_coordinators_day_send_preview_send_match(client, db, demo):
    sign_in(client, COORDINATOR)
    request_id = db.scalars(
        select(PatientRequest.id).where(
            PatientRequest.status == "received", PatientRequest.territory.has(slug="grand-arras")
        )
    ).first()
    page = client.get(f"/espace/demandes/{request_id}").text
    token = csrf_of(page)
    doctors = [int(i) for i in re.findall(r'name="doctor_ids" value="(\d+)"', page)]
    assert doctors and "Médecins proposés" in page and 'id="map"' in page
    preview = client.post(
        f"/espace/demandes/{request_id}/liste",
        data={"csrf_token": token, "doctor_ids": doctors[:2], "channel": "sms", "action": "preview"},
    )
    assert preview.status_code == 200 and "Aperçu (SMS" in preview.text
    # What it costs, as the networks count it (app/notifications/gsm.py), before it is sent.
    shown = unescape(re.search(r'<pre class="preview">(.*?)</pre>', preview.text, re.S).group(1))
    assert f"Coût : {cost(shown).label}" in unescape(preview.text)
    assert cost(shown).segments <= 2 and cost(shown).encoding == "GSM 7"
    # A preview sends nothing (the receipts written at submission aside).
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.kind != "receipt")).all() == []
    sent = client.post(
        f"/espace/demandes/{request_id}/liste",
        data={"csrf_token": token, "doctor_ids": doctors[:2], "channel": "sms", "action": "send"},
    )
    assert "Liste de 2 médecin(s) envoyée par SMS" in flash_of(sent.text)
    assert "Liste envoyée" in sent.text and "en attente" in sent.text  # the status and the outbox message
    db.rollback()
    places = db.get(Doctor, doctors[0]).capacity_remaining
    matched = client.post(
        f"/espace/demandes/{request_id}/attribution",
        data={"csrf_token": token, "doctor_id": doctors[0], "notify": "yes"},
    )
    assert "Médecin trouvé" in flash_of(matched.text)
    db.rollback()  # a new snapshot (and nothing cached)
    assert db.get(Doctor, doctors[0]).capacity_remaining == places - 1
    assert db.get(PatientRequest, request_id).status == "matched"


def test_refused_actions_are_explained_on_the_page(client, db, demo):
    sign_in(client, COORDINATOR)
    request_id = db.scalars(
        select(PatientRequest.id).where(
            PatientRequest.status == "received", PatientRequest.territory.has(slug="grand-arras")
        )
    ).first()
    token = csrf_of(client.get(f"/espace/demandes/{request_id}").text)
    nobody = client.post(f"/espace/demandes/{request_id}/liste", data={"csrf_token": token, "action": "send"})
    assert nobody.status_code == 200 and "Liste trop courte" in flash_of(nobody.text)
    no_email = client.post(
        f"/espace/demandes/{request_id}/liste",
        data={"csrf_token": token, "doctor_ids": ["1"], "channel": "email", "action": "send"},
    )
    assert "Pas d'adresse e-mail" in flash_of(no_email.text).replace("&#39;", "'")
    too_early = client.post(f"/espace/demandes/{request_id}/attribution", data={"csrf_token": token, "doctor_id": "1"})
    assert "Transition impossible" in flash_of(too_early.text)
    no_reason = client.post(f"/espace/demandes/{request_id}/cloture", data={"csrf_token": token})
    assert "Motif de clôture requis." in flash_of(no_reason.text)
    closed = client.post(f"/espace/demandes/{request_id}/cloture", data={"csrf_token": token, "reason": "withdrew"})
    assert flash_of(closed.text) == "Demande close." and "A renoncé" in closed.text
    bad = client.post(f"/espace/demandes/{request_id}/attribution", data={"csrf_token": token, "doctor_id": "abc"})
    assert bad.status_code == 422 and "<html" in bad.text


def test_notes_appear_in_the_history(client, demo):
    sign_in(client, COORDINATOR)
    request_id = queue_ids(client.get("/espace/demandes").text)[0]
    token = csrf_of(client.get(f"/espace/demandes/{request_id}").text)
    page = client.post(f"/espace/demandes/{request_id}/notes", data={"csrf_token": token, "text": "Rappeler lundi <b>"})
    assert flash_of(page.text) == "Note ajoutée."
    assert "Note : Rappeler lundi &lt;b&gt;" in page.text


def test_doctors_list_edit_deactivate_and_reminders(client, db, demo):
    sign_in(client, COORDINATOR)
    listing = client.get("/espace/medecins")
    assert listing.status_code == 200
    doctor_id = int(re.search(r'href="/espace/medecins/(\d+)"', listing.text).group(1))
    token = csrf_of(listing.text)
    saved = client.post(
        f"/espace/medecins/{doctor_id}",
        data={
            "csrf_token": token,
            "email": "nouvelle@example.fr",
            "accepting_new_patients": "yes",
            "capacity_remaining": "9",
            "languages": "fr, en",
        },
    )
    assert "Fiche enregistrée" in flash_of(saved.text)
    db.rollback()  # a new snapshot (and nothing cached)
    doctor = db.get(Doctor, doctor_id)
    assert (doctor.email, doctor.capacity_remaining, doctor.languages) == ("nouvelle@example.fr", 9, ["en", "fr"])
    wrong = client.post(f"/espace/medecins/{doctor_id}", data={"csrf_token": token, "capacity_remaining": "-1"})
    assert wrong.status_code == 422 and "Rien n'est enregistré" in wrong.text.replace("&#39;", "'")
    reminded = client.post(f"/espace/medecins/{doctor_id}/rappel", data={"csrf_token": token})
    assert "E-mail de confirmation envoyé" in flash_of(reminded.text)
    everyone = client.post("/espace/medecins/rappels", data={"csrf_token": token})
    assert "médecin(s) à confirmer" in flash_of(everyone.text) or "Aucun médecin" in flash_of(everyone.text)
    off = client.post(f"/espace/medecins/{doctor_id}/desactiver", data={"csrf_token": token})
    assert "est désactivé" in flash_of(off.text)
    db.rollback()  # a new snapshot (and nothing cached)
    assert db.get(Doctor, doctor_id).active is False
    other = db.scalars(select(Doctor.id).where(Doctor.territory.has(slug="provence-sante"))).first()
    assert client.get(f"/espace/medecins/{other}").status_code == 404


def test_csv_import_shows_the_per_line_report(client, demo):
    from tests.factories import DOCTORS_CSV_HEADER as HEADER
    from tests.factories import doctor_csv_row as row

    sign_in(client, COORDINATOR)
    token = csrf_of(client.get("/espace/medecins/import").text)
    content = f"{HEADER}\n{row(901)}\n{row(902, postcode='99999')}\n".encode()
    refused = client.post(
        "/espace/medecins/import", data={"csrf_token": token}, files={"file": ("m.csv", content, "text/csv")}
    )
    assert "Rien n'est importé : 1 ligne(s) invalide(s)." in refused.text.replace("&#39;", "'")
    assert '<td class="num">3</td>' in refused.text  # the line number
    done = client.post(
        "/espace/medecins/import",
        data={"csrf_token": token, "skip_invalid": "yes"},
        files={"file": ("m.csv", content, "text/csv")},
    )
    assert "Import fait : 1 créé(s)" in done.text
    empty = client.post("/espace/medecins/import", data={"csrf_token": token})
    assert empty.status_code == 422 and "Choisissez un fichier CSV." in empty.text


def test_a_doctor_sees_only_its_own_record_and_updates_its_capacity(client, db, demo):
    sign_in(client, DOCTOR)
    page = client.get("/espace/mon-cabinet")
    assert page.status_code == 200 and "Mon cabinet" in page.text
    assert client.get("/espace/medecins").status_code == 403
    assert client.get("/espace/demandes").status_code == 403
    saved = client.post(
        "/espace/mon-cabinet",
        data={"csrf_token": csrf_of(page.text), "accepting_new_patients": "yes", "capacity_remaining": "4"},
    )
    assert "4 place(s)" in flash_of(saved.text)
    assert re.search(r'id="places">4<', saved.text)


def test_a_professional_sees_its_requests_and_submits_one(client, db, demo):
    sign_in(client, PROFESSIONAL)
    page = client.get("/espace/mes-demandes/nouvelle")
    token = csrf_of(page.text)
    patient = {
        "csrf_token": token,
        "family_name": "Lenoir",
        "given_name": "Marc",
        "birth_date": "1950-02-03",
        "phone": "06 11 22 33 44",
        "postcode": "62000",
        "city": "Arras",
        "ald": "yes",
        "no_doctor_reason": "moved_in",
    }
    refused = client.post("/espace/mes-demandes/nouvelle", data=patient)
    assert refused.status_code == 422
    assert "Accord du patient : confirmez que le patient a donné son accord." in refused.text
    done = client.post("/espace/mes-demandes/nouvelle", data=patient | {"patient_consent_attested": "yes"})
    assert "Demande de Marc LENOIR enregistrée" in flash_of(done.text)
    assert "LENOIR Marc" in done.text
    created = db.scalars(select(PatientRequest).where(PatientRequest.family_name == "Lenoir")).one()
    assert created.submitted_by == "professional" and created.ald
    assert client.get(f"/espace/demandes/{created.id}").status_code == 403
    assert client.get("/espace/mes-demandes").text.count("<tr>") == 2  # the header, its one request


def test_sources_indicators_and_audit_pages(client, demo):
    sign_in(client, COORDINATOR)
    token = csrf_of(client.get("/espace/sources").text)
    created = client.post("/espace/sources", data={"csrf_token": token, "name": "Mairie d'Agny", "kind": "town_hall"})
    assert "créée" in flash_of(created.text)
    source_id = re.search(r"/api/v1/sources/(\d+)/flyer", created.text).group(1)
    assert client.get(f"/api/v1/sources/{source_id}/flyer").status_code == 200  # with the session cookie
    assert client.get(f"/api/v1/sources/{source_id}/qr.png").headers["content-type"] == "image/png"
    indicators = client.get("/espace/indicateurs?du=2020-01-01")
    assert indicators.status_code == 200 and "/static/vendor/chartjs/chart.umd.min.js" in indicators.text
    assert "Patients orientés" in indicators.text
    exported = client.get("/espace/indicateurs.csv?du=2020-01-01")
    assert exported.headers["content-type"].startswith("text/csv") and "Patients orientés" in exported.content.decode(
        "utf-8-sig"
    )
    assert client.get("/espace/indicateurs?du=2026-05-01&au=2026-01-01").status_code == 422
    audit = client.get("/espace/journal?objet=source")
    assert audit.status_code == 200 and "création de la source" in audit.text  # the glossary's words, not the code
    assert "request.create" not in audit.text


def test_the_cpts_switcher_scopes_the_lists(client, db, demo):
    sign_in(client, "admin@orientation.example.fr")
    page = client.get("/espace/demandes")
    assert 'id="cpts-switch"' in page.text
    provence = re.search(r'<option value="(\d+)"[^>]*>CPTS Provence Santé', page.text).group(1)
    switched = client.post(
        "/espace/cpts",
        data={"csrf_token": csrf_of(page.text), "territory_id": provence, "suite": "/espace/demandes/12"},
    )
    assert "Provence Santé" in flash_of(switched.text) and switched.url.path == "/espace/demandes"
    assert all(db.get(PatientRequest, i).territory.slug == "provence-sante" for i in queue_ids(switched.text))
    sign_in(client, COORDINATOR)  # one CPTS only: no switcher, and no way into another
    page = client.get("/espace/demandes")
    assert 'id="cpts-switch"' not in page.text
    assert (
        client.post("/espace/cpts", data={"csrf_token": csrf_of(page.text), "territory_id": provence}).status_code
        == 403
    )


def test_static_files_are_served_by_the_app(client):
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/static/vendor/chartjs/chart.umd.min.js").status_code == 200
    assert client.get("/static/workspace/workspace.css").status_code == 200


def test_no_page_loads_anything_from_elsewhere(client, demo):
    sign_in(client, COORDINATOR)
    request_id = queue_ids(client.get("/espace/demandes").text)[0]
    for path in (
        "/espace/demandes",
        f"/espace/demandes/{request_id}",
        "/espace/medecins",
        "/espace/sources",
        "/espace/indicateurs",
        "/espace/journal",
        "/espace/connexion",
    ):
        html = client.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', html), path

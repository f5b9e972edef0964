"""The coordination's daily tools: one doctor added or edited from the workspace, the import's
CSV template, printable pages (a request, the doctors' list)."""

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from app.audit.models import AuditEvent
from app.core.database import utcnow
from app.demo_people import demo_rpps
from app.doctors.models import Doctor
from app.requests.models import PatientRequest
from tests.helpers.workspace import COORDINATOR, OTHER_COORDINATOR, csrf_of, flash_of, sign_in

NEW_DOCTOR = {
    "rpps": demo_rpps(901),
    "civility": "MME",
    "family_name": "Lefebvre",
    "given_name": "Claire",
    "specialty": "SM54",
    "email": "claire.lefebvre@example.fr",
    "phone": "03 21 11 22 33",
    "address": "8 rue Gambetta",
    "postcode": "62000",
    "city": "Arras",
    "accepting_new_patients": "yes",
    "capacity_remaining": "12",
}


def _post_new(client, **changes):
    page = client.get("/espace/medecins/nouveau")
    assert page.status_code == 200
    return client.post("/espace/medecins/nouveau", data={**NEW_DOCTOR, **changes, "csrf_token": csrf_of(page.text)})


def test_a_doctor_added_from_the_form_is_checked_like_the_api_and_audited(client, demo, db):
    sign_in(client, COORDINATOR)
    wrong_key = NEW_DOCTOR["rpps"][:-1] + str((int(NEW_DOCTOR["rpps"][-1]) + 1) % 10)
    refused = _post_new(client, rpps=wrong_key)
    assert refused.status_code == 422
    assert 'id="rpps-error">Numéro RPPS invalide : la clé de contrôle ne correspond pas.' in refused.text
    # What was typed is still there, the error tied to its field.
    assert f'value="{wrong_key}" aria-describedby="rpps-error" aria-invalid="true"' in refused.text
    assert 'value="Lefebvre"' in refused.text and 'value="8 rue Gambetta"' in refused.text
    assert db.scalars(select(Doctor).where(Doctor.rpps.in_([wrong_key, NEW_DOCTOR["rpps"]]))).first() is None

    outside = _post_new(client, postcode="13790", city="Rousset")
    assert outside.status_code == 422
    assert re.search(r'id="city-error">Rousset \(13087\) appartient à la CPTS Provence', outside.text)

    done = _post_new(client)
    assert done.status_code == 200 and "Fiche de Dr Claire Lefebvre créée" in flash_of(done.text)
    db.rollback()  # a fresh read of what the app committed
    doctor = db.scalars(select(Doctor).where(Doctor.rpps == NEW_DOCTOR["rpps"])).one()
    assert (doctor.civility, doctor.capacity_remaining, doctor.territory.slug) == ("MME", 12, "grand-arras")
    assert doctor.locations[0].insee_code == "62041" and doctor.locations[0].latitude is not None
    assert doctor.phone == "+33321112233"
    mine = (AuditEvent.object_type == "doctor", AuditEvent.object_id == str(doctor.id))
    trail = db.scalars(select(AuditEvent).where(*mine))
    assert [e.action for e in trail] == ["doctor.create"]

    again = _post_new(client)
    assert again.status_code == 422
    assert f'id="rpps-error">Un médecin avec le RPPS {NEW_DOCTOR["rpps"]} est déjà inscrit.' in again.text


def test_the_edit_form_changes_the_identity_and_keeps_what_was_typed_when_refused(client, demo, db):
    sign_in(client, COORDINATOR)
    doctor = db.scalars(select(Doctor).where(Doctor.territory.has(slug="grand-arras")).order_by(Doctor.id)).first()
    page = client.get(f"/espace/medecins/{doctor.id}")
    form = {
        "csrf_token": csrf_of(page.text),
        "civility": "DR",
        "family_name": "",
        "given_name": "Paul",
        "specialty": "SM54",
        "email": "paul@example.fr",
        "capacity_remaining": "3",
        "accepting_new_patients": "yes",
    }
    refused = client.post(f"/espace/medecins/{doctor.id}", data=form)
    assert refused.status_code == 422
    assert 'id="family_name-error">Nom : ' in refused.text and 'value="paul@example.fr"' in refused.text
    no_email = client.post(f"/espace/medecins/{doctor.id}", data=form | {"family_name": "Nouveau-Nom", "email": ""})
    assert no_email.status_code == 422 and 'id="email-error">E-mail : à remplir.' in no_email.text
    done = client.post(f"/espace/medecins/{doctor.id}", data=form | {"family_name": "Nouveau-Nom"})
    assert "Fiche enregistrée" in flash_of(done.text)
    db.rollback()
    db.refresh(doctor)
    assert (doctor.family_name, doctor.given_name, doctor.email) == ("Nouveau-Nom", "Paul", "paul@example.fr")


def test_the_csv_template_imports_as_it_is(client, demo, db):
    sign_in(client, COORDINATOR)
    page = client.get("/espace/medecins/import")
    assert 'href="/espace/medecins/modele.csv"' in page.text
    template = client.get("/espace/medecins/modele.csv")
    assert template.status_code == 200 and template.headers["content-type"].startswith("text/csv")
    # UTF-8 with a BOM, for Excel; the importer's own column names.
    assert template.content.startswith("\ufeffRPPS;Civilité;Nom;Prénom;".encode())
    assert len(template.content.decode("utf-8-sig").strip().splitlines()) == 2
    imported = client.post(
        "/espace/medecins/import",
        files={"file": ("modele.csv", template.content, "text/csv")},
        data={"csrf_token": csrf_of(page.text)},
    )
    assert imported.status_code == 200
    assert "Import fait : 1 créé(s), 0 mis à jour, 0 inchangé(s)." in imported.text
    db.rollback()
    assert db.scalars(select(Doctor).where(Doctor.family_name == "Exemple")).one().territory.slug == "grand-arras"
    # Another CPTS's template names one of its own communes, and imports there.
    sign_in(client, OTHER_COORDINATOR)
    other = client.get("/espace/medecins/modele.csv").content.decode("utf-8-sig")
    page = client.get("/espace/medecins/import")
    imported = client.post(
        "/espace/medecins/import",
        files={"file": ("modele.csv", other.encode("utf-8-sig"), "text/csv")},
        data={"csrf_token": csrf_of(page.text)},
    )
    assert "Import fait : 1 créé(s)" in imported.text


def test_the_printable_doctor_list_follows_the_filters(client, demo, db):
    sign_in(client, COORDINATOR)
    listed = client.get("/espace/medecins")
    assert 'href="/espace/medecins/imprimer?etat=actifs&amp;q="' in listed.text
    printed = client.get("/espace/medecins/imprimer?etat=actifs")
    assert printed.status_code == 200
    assert '<link rel="stylesheet" href="/static/workspace/print.css">' in printed.text
    active = db.scalars(select(Doctor).where(Doctor.territory.has(slug="grand-arras"), Doctor.active.is_(True))).all()
    assert printed.text.count("<tr>") == len(active) + 1  # every active doctor on one page, with the header
    assert f"{len(active)} médecins" in printed.text
    assert "Provence" not in printed.text.split("<table", 1)[1]
    assert "style=" not in printed.text


def test_the_printable_request_shows_the_answers_and_the_lists_sent_and_is_an_audited_read(
    client, demo, db, coordinator
):
    request = db.scalars(
        select(PatientRequest)
        .where(PatientRequest.territory.has(slug="grand-arras"), PatientRequest.status == "received")
        .order_by(PatientRequest.id)
    ).first()
    suggestions = client.get(f"/api/v1/requests/{request.id}/suggestions", headers=coordinator).json()
    chosen = [s["doctor_id"] for s in suggestions["doctors"][:2]]
    sent = client.post(f"/api/v1/requests/{request.id}/send-list", json={"doctor_ids": chosen}, headers=coordinator)
    assert sent.status_code == 200, sent.text
    sign_in(client, COORDINATOR)
    page = client.get(f"/espace/demandes/{request.id}")
    assert f'href="/espace/demandes/{request.id}/imprimer"' in page.text
    db.rollback()
    before = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "read", AuditEvent.object_id == str(request.id))
    )
    printed = client.get(f"/espace/demandes/{request.id}/imprimer")
    assert printed.status_code == 200
    assert '<link rel="stylesheet" href="/static/workspace/print.css">' in printed.text and "style=" not in printed.text
    assert request.family_name.upper() in printed.text and request.birth_date.strftime("%d/%m/%Y") in printed.text
    lists = printed.text.split('id="h-lists"')[1].split('id="h-history"')[0]
    for doctor in suggestions["doctors"][:2]:
        assert doctor["name"] in lists  # the list as it was sent
    db.rollback()
    after = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "read", AuditEvent.object_id == str(request.id))
    )
    assert after == before + 1
    # Another CPTS's coordinator cannot print it.
    sign_in(client, OTHER_COORDINATOR)
    assert client.get(f"/espace/demandes/{request.id}/imprimer").status_code == 404


def test_requests_waiting_too_long_are_highlighted_in_words_and_counted(client, demo, db, monkeypatch):
    mine = (PatientRequest.territory.has(slug="grand-arras"), PatientRequest.status.in_(["received", "proposed"]))
    now = utcnow()
    db.execute(update(PatientRequest).where(*mine).values(created_at=now - timedelta(days=3)))
    ids = db.scalars(select(PatientRequest.id).where(*mine, PatientRequest.duplicate_of_id.is_(None))).all()
    late, limit = ids[0], ids[1]
    db.execute(update(PatientRequest).where(PatientRequest.id == late).values(created_at=now - timedelta(days=20)))
    db.execute(update(PatientRequest).where(PatientRequest.id == limit).values(created_at=now - timedelta(days=14)))
    db.commit()
    sign_in(client, COORDINATOR)
    queue = client.get("/espace/demandes")
    rows = {
        int(i): row
        for i, row in re.findall(r'<tr[^>]*>\s*<td><a href="/espace/demandes/(\d+)">(.*?)</tr>', queue.text, re.S)
    }
    highlighted = {i for i, row in rows.items() if "en attente depuis" in row}
    assert highlighted == {late}  # 14 days is not longer than 14
    assert re.search(r'<span class="badge waiting-long">en attente depuis 2\d jours</span>', rows[late])
    assert re.search(r'id="waiting-too-long"><strong>1</strong> demande en attente depuis plus de 14 jours', queue.text)
    only = client.get("/espace/demandes?attente=longue")
    assert set(re.findall(r'<td><a href="/espace/demandes/(\d+)"', only.text)) == {str(late)}
    indicators = client.get("/espace/indicateurs")
    assert re.search(r"<strong>1</strong> demande ouverte en attente depuis plus de 14 jours", indicators.text)

    monkeypatch.setattr(client.app.state.settings, "waiting_alert_days", 2)  # ORIENTATION_WAITING_ALERT_DAYS
    queue = client.get("/espace/demandes")
    assert f"<strong>{len(rows)}</strong> demandes en attente depuis plus de 2 jours" in queue.text

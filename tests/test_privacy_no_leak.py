"""Issue 13, item 5: no personal data where it should not be. A day of the demo's flows —
intake by the three ways in, the coordination's work, messages delivered by the worker, bookings,
a doctors' import, and error paths — with the service logging at DEBUG, the app's and the
libraries' loggers alike; then not one name, phone, birth date or e-mail used may appear in the
logs, the audit trail or the indicators' export."""

import io
import json
import logging
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.audit.models import AuditEvent
from app.core.database import for_writing
from app.core.logging import configure_logging
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.notifications.senders import FileSender, SmtpSender
from tests import factories
from tests.fakes.smtp import SmtpServer
from tests.helpers.workspace import COORDINATOR, PROFESSIONAL, csrf_of, sign_in

# The people of the day: unusual enough that a hit is a leak, not a coincidence.
PATIENT = {  # by the API, e-mail as channel
    "family_name": "Vautrinecq",
    "given_name": "Ombeline",
    "birth_date": "1951-07-19",
    "phone": "06 71 23 45 89",
    "email": "ombeline.vautrinecq@example.org",
    "address": "17 rue des Capucins",
}
FORM_PATIENT = {  # by the questionnaire, SMS
    "family_name": "Quillevere",
    "given_name": "Aldegonde",
    "birth_date": "1987-02-23",
    "phone": "07 58 14 92 36",
    "email": "",
}
PHARMACY_PATIENT = {  # by a pharmacist's form
    "family_name": "Brossolette",
    "given_name": "Philiberte",
    "birth_date": "1944-11-03",
    "phone": "06 28 84 27 15",
}
OUTSIDE_PATIENT = {  # lives outside every CPTS (Mercatel, 62217)
    "family_name": "Harlequine",
    "given_name": "Sidonie",
    "birth_date": "1962-05-30",
    "phone": "06 45 97 31 28",
    "city": "Mercatel",
}
BOOKED_PATIENT = {  # an unscheduled-care booking
    "family_name": "Trouvadec",
    "given_name": "Gwenvaela",
    "phone": "06 82 47 19 53",
    "email": "gwenvaela.trouvadec@example.net",
}
REFUSED = {  # sent with a mistake: refused, never stored, never logged either
    "family_name": "Malvoisine",
    "given_name": "Eudoxie",
    "birth_date": "1970-09-12",
    "phone": "06 13 28 71 46",
    "email": "eudoxie.malvoisine@example.com",
}
DOCTOR = {"family_name": "Quenardel", "given_name": "Bertrande", "email": "b.quenardel@cabinet.example.fr"}


def _needles() -> list[str]:
    """Every value above, as typed and as the service stores or formats it."""
    values: set[str] = set()
    for person in (PATIENT, FORM_PATIENT, PHARMACY_PATIENT, OUTSIDE_PATIENT, BOOKED_PATIENT, REFUSED, DOCTOR):
        for field in ("family_name", "given_name", "email", "address"):
            if person.get(field):
                values |= {person[field], person[field].upper()}
        if "phone" in person:
            digits = person["phone"].replace(" ", "")
            values |= {person["phone"], digits, "+33" + digits[1:], digits[1:]}
        if "birth_date" in person:
            born = date.fromisoformat(person["birth_date"])
            values |= {born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%Y%m%d")}
    return sorted(values)


def leaks(text: str) -> list[str]:
    """The needles found in a text, as they are or as JSON escapes them (é → \\u00e9)."""
    lowered = text.lower()
    return [n for n in _needles() if n.lower() in lowered or json.dumps(n)[1:-1].lower() in lowered]


@pytest.fixture
def debug_logs(settings):
    """The service's logging as `LOG_LEVEL=DEBUG` sets it up (app/core/logging.py), into a buffer:
    the root logger, so every library's records are in it too. The loopback SMTP server of
    the test stands for the mail provider beyond this machine: its own log ("mail.log") is left out."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    named = ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx")
    saved = {
        n: (
            logging.getLogger(n).handlers[:],
            logging.getLogger(n).propagate,
            logging.getLogger(n).disabled,
            logging.getLogger(n).level,
        )
        for n in named
    }
    buffer = io.StringIO()
    configure_logging("DEBUG")
    handler = root.handlers[0]
    handler.setStream(buffer)
    handler.addFilter(lambda record: not record.name.startswith("mail.log"))
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for n, (handlers, propagate, disabled, level) in saved.items():
        logger = logging.getLogger(n)
        logger.handlers[:], logger.propagate, logger.disabled = handlers, propagate, disabled
        logger.setLevel(level)


def test_the_detector_finds_each_kind_of_value():
    """What the day's test looks for, it would find: a name, a phone as stored, a birth date
    as shown, an e-mail, inside JSON."""
    assert leaks('{"message": "Vautrinecq"}') == ["VAUTRINECQ", "Vautrinecq"]
    assert leaks(json.dumps({"nom": "Aldegonde Quillevère"})) != []
    assert leaks("+33671234589") == ["+33671234589", "671234589"]
    assert leaks("née le 19/07/1951") == ["19/07/1951"]
    assert "ombeline.vautrinecq@example.org" in leaks(json.dumps({"to": "ombeline.vautrinecq@example.org"}))
    assert leaks("Arras, 62000, 2026-11-23") == []


def test_a_day_of_the_demo_leaves_no_personal_data_in_logs_audit_or_indicators(
    ban_client, fake_ban, db, demo_slots, engine, settings, debug_logs, tmp_path
):
    client = ban_client  # addresses go to the geocoder (the BAN, faked on loopback) and back
    fake_ban.fail(503, times=1)  # its first answer is an error: the service falls back to the commune
    coordinator = factories.account_headers(db, "coordinator", 1, ["grand-arras"], None)

    # ---- Morning: requests come in, by the API, the questionnaire and a pharmacist -----------------
    by_api = factories.submit(client, preferred_channel="email", **PATIENT)
    assert by_api.status_code == 201, by_api.text
    request_id = by_api.json()["id"]
    assert factories.submit(client, preferred_channel="email", **PATIENT).status_code == 200  # again: a duplicate
    by_form = client.post("/", data=factories.form(**FORM_PATIENT))
    assert by_form.status_code == 200
    outside = factories.submit(client, **OUTSIDE_PATIENT)
    assert outside.json()["status"] == "out_of_territory"
    sign_in(client, PROFESSIONAL)
    page = client.get("/espace/mes-demandes/nouvelle").text
    pharmacy = factories.form(**PHARMACY_PATIENT) | {"patient_consent_attested": "yes", "csrf_token": csrf_of(page)}
    by_pharmacy = client.post("/espace/mes-demandes/nouvelle", data=pharmacy, follow_redirects=False)
    assert by_pharmacy.status_code == 303, re.findall(r"class=\"error\"[^>]*>([^<]+)", by_pharmacy.text)
    client.cookies.clear()

    # Error paths: each mistake sent with the rest of a person's data.
    bad = [
        factories.submit(client, **(REFUSED | {"phone": "01 23"})),  # not a phone
        factories.submit(client, **(REFUSED | {"email": "eudoxie.malvoisine@"})),  # not an e-mail
        factories.submit(client, **(REFUSED | {"birth_date": "2999-01-01"})),  # in the future
        factories.submit(client, **(REFUSED | {"postcode": "62217", "city": None})),  # which commune?
        factories.submit(client, **(REFUSED | {"consent": False})),
        factories.submit(client, **(REFUSED | {"consent_version": "1999-01/12m"})),
        factories.submit(client, **(REFUSED | {"family_name": "Malvoisine\x00"})),  # NUL
        client.post("/", data=factories.form(**(REFUSED | {"birth_date": "31/02/1970"}))),
        client.post(
            "/api/v1/requests",
            content=json.dumps(factories.answers(**REFUSED))[:-5],
            headers={"content-type": "application/json"},
        ),  # cut short
    ]
    assert [r.status_code for r in bad] == [422] * len(bad)
    wrong = client.post("/espace/connexion", data={"email": REFUSED["email"], "password": "pas le bon"})
    assert wrong.status_code in (401, 200)
    assert client.post("/api/v1/auth/login", json={"email": PATIENT["email"], "password": "x"}).status_code == 401

    # ---- Midday: the coordination works the queue ----------------------------------------------------
    assert client.get("/api/v1/requests", headers=coordinator).status_code == 200
    assert client.get(f"/api/v1/requests?q={PATIENT['family_name']}", headers=coordinator).status_code == 200
    assert client.get(f"/api/v1/requests/{request_id}", headers=coordinator).status_code == 200
    suggestions = client.get(f"/api/v1/requests/{request_id}/suggestions", headers=coordinator).json()
    doctor_ids = [d["doctor_id"] for d in suggestions["doctors"][:3]]
    sent = client.post(f"/api/v1/requests/{request_id}/send-list", json={"doctor_ids": doctor_ids}, headers=coordinator)
    assert sent.status_code == 200, sent.text
    note = f"Rappeler {PATIENT['given_name']} au {PATIENT['phone']}"
    assert (
        client.post(f"/api/v1/requests/{request_id}/notes", json={"text": note}, headers=coordinator).status_code == 200
    )
    matched = {"to": "matched", "doctor_id": doctor_ids[0], "notify": True}
    assert (
        client.post(f"/api/v1/requests/{request_id}/transitions", json=matched, headers=coordinator).status_code == 200
    )
    sign_in(client, COORDINATOR)
    assert FORM_PATIENT["family_name"].upper() in client.get("/espace/demandes").text.upper()
    assert client.get(f"/espace/demandes/{request_id}").status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/requests/999999", headers=coordinator).status_code == 404

    # ---- Afternoon: doctors imported, a slot booked, one cancelled ------------------------------------
    header = factories.DOCTORS_CSV_HEADER
    row = factories.doctor_csv_row(801, email=DOCTOR["email"]).replace("Nom801", DOCTOR["family_name"])
    row = row.replace("Émilie", DOCTOR["given_name"])
    broken = factories.doctor_csv_row(802, email="pas-une-adresse").replace("Nom802", DOCTOR["family_name"])
    upload = ("medecins.csv", "\n".join([header, row, broken]).encode(), "text/csv")
    imported = client.post(
        "/api/v1/doctors/import?cpts=grand-arras&skip_invalid=true", files={"file": upload}, headers=coordinator
    )
    assert imported.status_code == 200, imported.text
    slots = client.get(
        "/api/v1/snp/slots", params={"cpts": "grand-arras", "status": "free"}, headers=coordinator
    ).json()
    free = [
        s["id"] for s in slots["items"] if datetime.fromisoformat(s["start"]) > datetime.now(UTC) + timedelta(hours=1)
    ]
    patient = BOOKED_PATIENT | {"reason": "Entorse de la cheville"}
    booked = client.post(f"/api/v1/snp/slots/{free[0]}/bookings", json=patient, headers=coordinator)
    assert booked.status_code == 201, booked.text
    assert client.post(f"/api/v1/snp/slots/{free[0]}/bookings", json=patient, headers=coordinator).status_code == 409
    second = client.post(f"/api/v1/snp/slots/{free[1]}/bookings", json=patient, headers=coordinator).json()
    assert client.post(f"/api/v1/snp/bookings/{second['id']}/cancel", headers=coordinator).status_code == 200
    bad_booking = client.post(
        f"/api/v1/snp/slots/{free[2]}/bookings", json=patient | {"phone": "12"}, headers=coordinator
    )
    assert bad_booking.status_code == 422

    # ---- Evening: the worker delivers every message (e-mails by SMTP on loopback, SMS to a file) -------
    smtp = SmtpServer()
    smtp.start()
    try:
        configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port})
        senders = {"email": SmtpSender(configured), "sms": FileSender(tmp_path / "sms.log")}
        worker = OutboxWorker(configured, sessionmaker(bind=for_writing(engine)), senders)
        delivered = 0
        while sent := worker.run_once():
            delivered += sent
    finally:
        smtp.stop()
    assert delivered >= 6  # receipts, the list, the outcome, the booking and its cancellation
    assert any(PATIENT["email"] in str(m["To"]) for m in smtp.messages)
    db.rollback()
    assert db.scalars(select(OutboxMessage.status).where(OutboxMessage.status != "sent")).all() == []

    # ---- What is kept and handed out ----------------------------------------------------------------
    indicators = client.get("/api/v1/territories/grand-arras/indicators", headers=coordinator)
    assert indicators.status_code == 200
    sign_in(client, COORDINATOR)
    csv = client.get("/espace/indicateurs.csv")
    assert csv.status_code == 200 and "demandes" in csv.text
    audit_rows = db.scalars(select(AuditEvent)).all()
    audit_text = "\n".join(
        repr({c.key: getattr(event, c.key) for c in AuditEvent.__table__.columns}) for event in audit_rows
    )
    assert "request.create" in audit_text or "request.read" in audit_text  # the trail did record the day
    logs = debug_logs.getvalue()
    # The logs did record the day, at DEBUG and from libraries too: a check that can fail.
    assert '"route": "/api/v1/requests"' in logs and '"level": "DEBUG"' in logs
    assert {json.loads(line)["logger"].split(".")[0] for line in logs.splitlines()} > {"orientation"}

    assert leaks(logs) == [], "personal data in the logs"
    assert leaks(audit_text) == [], "personal data in the audit trail"
    assert leaks(indicators.text) == [], "personal data in the indicators"
    assert leaks(csv.text) == [], "personal data in the indicators' CSV"

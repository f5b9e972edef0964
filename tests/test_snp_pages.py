"""Unscheduled care in the workspace, through the HTTP client: the board, publishing,
booking by the coordination and by a SAS regulator (with the SAS's signed link only), cancelling, outcomes."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.demo_people import DEMO_PASSWORD
from app.snp.models import Booking, Slot
from app.snp.rules import PARIS
from app.snp.sas_links import sas_booking_links
from tests.helpers.workspace import COORDINATOR, DOCTOR, OTHER_COORDINATOR, REGULATOR, csrf_of, flash_of, sign_in

BOARD = "/espace/soins-non-programmes"


def _free_slot(db, territory_slug: str = "grand-arras") -> Slot:
    from app.territories.models import Territory

    territory_id = db.scalars(select(Territory.id).where(Territory.slug == territory_slug)).one()
    slot = db.scalars(
        select(Slot)
        .where(
            Slot.territory_id == territory_id,
            Slot.status == "free",
            Slot.appointment_type == "ROUTINE",
            Slot.doctor_id.is_not(None),
            Slot.start_at > datetime.now(UTC) + timedelta(hours=1),
        )
        .order_by(Slot.start_at)
    ).first()
    db.commit()  # ends the read: later reads see what the app commits (SQLite snapshots)
    return slot


def _book_form(client, path: str, **values) -> object:
    page = client.get(path)
    assert page.status_code == 200, page.text
    origin = re.search(r'name="origin" value="([^"]*)"', page.text).group(1)
    data = {
        "csrf_token": csrf_of(page.text),
        "origin": origin,
        "sas": re.search(r'name="sas" value="([^"]*)"', page.text).group(1),
        "family_name": "Martin",
        "given_name": "Lucie",
        "phone": "06 12 34 56 78",
        "reason": "Fièvre depuis hier",
    } | values
    return client.post(path, data=data, follow_redirects=False)


def test_the_board_shows_the_days_slots_per_doctor(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    day = _free_slot(db).start_at.astimezone(PARIS).date()
    page = client.get(BOARD, params={"jour": day.isoformat()})
    assert page.status_code == 200
    assert re.search(r"\d+ créneau\(x\) libre\(s\)", page.text)
    assert "Dr Pierre Foret" in page.text or "Centre de soins" in page.text
    week = client.get(BOARD, params={"jour": day.isoformat(), "vue": "semaine"})
    assert week.text.count('<h2 id="jour-') == 7


def test_a_coordinator_books_cancels_and_the_slot_is_free_again(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    slot = _free_slot(db)
    booked = _book_form(client, f"{BOARD}/creneaux/{slot.id}/reserver")
    assert booked.status_code == 303
    assert "Rendez-vous réservé pour Lucie Martin" in flash_of(client.get(booked.headers["location"]).text)
    db.rollback()
    booking = db.scalars(select(Booking).where(Booking.slot_id == slot.id)).one()
    assert (booking.origin, booking.phone) == ("cpts", "+33612345678")
    assert "plus libre" in client.get(f"{BOARD}/creneaux/{slot.id}/reserver").text
    # A second secretary who opened the page before: 409, told at once.
    board_page = client.get(BOARD)
    late = client.post(
        f"{BOARD}/creneaux/{slot.id}/reserver",
        data={
            "csrf_token": csrf_of(board_page.text),
            "origin": "",
            "family_name": "Autre",
            "given_name": "Patient",
            "phone": "0611111111",
            "reason": "Toux",
        },
        follow_redirects=False,
    )
    assert late.status_code == 409 and "être réservé par quelqu" in late.text

    board = client.get(booked.headers["location"])
    cancelled = client.post(
        f"{BOARD}/rendez-vous/{booking.id}/annuler", data={"csrf_token": csrf_of(board.text)}, follow_redirects=False
    )
    assert "annulé" in flash_of(client.get(cancelled.headers["location"]).text)
    db.rollback()
    assert db.get(Slot, slot.id).status == "free"


def test_bad_patient_details_come_back_with_the_reason(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    slot = _free_slot(db)
    response = _book_form(client, f"{BOARD}/creneaux/{slot.id}/reserver", phone="12")
    assert response.status_code == 422 and "Numéro de téléphone invalide" in response.text
    db.rollback()
    assert db.scalars(select(Booking)).all() == []


def test_publishing_a_pattern_from_the_board(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    page = client.get(BOARD)
    owner = re.search(r'<option value="(d\d+)">', page.text).group(1)
    first = (datetime.now(PARIS) + timedelta(days=30)).date()
    response = client.post(
        f"{BOARD}/recurrences",
        data={
            "csrf_token": csrf_of(page.text),
            "owner": owner,
            "weekdays": ["2", "4"],
            "start": "16:00",
            "end": "18:00",
            "minutes": "20",
            "first_date": first.isoformat(),
            "weeks": "2",
            "kind": "AMB",
            "visibility": ["SNP", "CPTS"],
        },
        follow_redirects=False,
    )
    assert "24 créneau(x) créé(s)" in flash_of(client.get(response.headers["location"]).text)
    bad = client.post(
        f"{BOARD}/recurrences",
        data={
            "csrf_token": csrf_of(page.text),
            "owner": owner,
            "weekdays": ["2"],
            "start": "18:00",
            "end": "16:00",
            "first_date": first.isoformat(),
        },
        follow_redirects=False,
    )
    assert "heure de fin" in flash_of(client.get(bad.headers["location"]).text)


def test_the_search_for_a_caller_lists_bookable_slots(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    page = client.get(f"{BOARD}/recherche", params={"code_postal": "62000", "commune": "Arras", "heures": "336"})
    assert page.status_code == 200
    assert "examiné(s)" in page.text and "/reserver" in page.text
    wrong = client.get(f"{BOARD}/recherche", params={"code_postal": "62217"})
    assert wrong.status_code == 422


def _sas_link(client, slot_id: int) -> str:
    """The booking link the /fhir feed puts in this slot's Slot.comment (path and query)."""
    links = sas_booking_links(client.app)
    token = links.token(slot_id, links.expires(datetime.now(UTC)))
    return f"{BOARD}/creneaux/{slot_id}/reserver?origin=sas&sas={token}"


def test_a_regulator_books_from_the_sas_only(client, db, demo_slots):
    slot = db.scalars(
        select(Slot).where(
            Slot.sas_visible.is_(True),
            Slot.status == "free",
            Slot.doctor_id.is_not(None),
            Slot.start_at > datetime.now(UTC) + timedelta(hours=1),
        )
    ).first()
    db.commit()
    link = _sas_link(client, slot.id)
    # Arriving from the SAS without a session: sign in, then back to the slot.
    first = client.get(link, follow_redirects=False)
    assert first.status_code == 303 and "suite=" in first.headers["location"]
    signed = client.post(
        "/espace/connexion",
        data={"email": REGULATOR, "password": DEMO_PASSWORD, "suite": link},
        follow_redirects=False,
    )
    assert signed.headers["location"] == link
    booked = _book_form(client, link)
    assert booked.status_code == 200 and "Rendez-vous réservé" in booked.text
    db.rollback()
    booking = db.scalars(select(Booking).where(Booking.slot_id == slot.id)).one()
    assert booking.origin == "sas" and booking.sas_appointment_id
    # Typing origin=sas, or anywhere else in the workspace, the regulator gets nothing.
    other = _free_slot(db)
    assert client.get(f"{BOARD}/creneaux/{other.id}/reserver?origin=sas").status_code == 403
    assert client.get(BOARD).status_code == 403
    assert client.get("/espace/demandes").status_code == 403


def test_a_slot_kept_inside_the_cpts_cannot_be_booked_from_the_sas(client, db, demo_slots):
    slot = db.scalars(select(Slot).where(Slot.sas_visible.is_(False), Slot.status == "free")).first()
    db.commit()
    sign_in(client, REGULATOR)
    assert client.get(_sas_link(client, slot.id)).status_code == 404


def test_another_cptss_coordinator_cannot_book_or_cancel(client, db, demo_slots):
    slot = _free_slot(db)
    sign_in(client, OTHER_COORDINATOR)
    assert client.get(f"{BOARD}/creneaux/{slot.id}/reserver").status_code == 404


def test_a_doctor_sees_and_publishes_its_own_slots(client, db, demo_slots):
    from app.accounts.models import User

    sign_in(client, DOCTOR)
    doctor_id = db.scalars(select(User.doctor_id).where(User.email == DOCTOR)).one()
    db.commit()
    page = client.get(BOARD, params={"vue": "semaine"})
    assert page.status_code == 200
    day = (datetime.now(PARIS) + timedelta(days=20)).date()
    response = client.post(
        f"{BOARD}/creneaux",
        data={
            "csrf_token": csrf_of(page.text),
            "day": day.isoformat(),
            "start": "07:00",
            "end": "07:20",
            "kind": "AMB",
            "visibility": ["SNP"],
        },
        follow_redirects=False,
    )
    assert "Créneau ajouté" in flash_of(client.get(response.headers["location"]).text)
    db.rollback()
    mine = db.scalars(
        select(Slot.doctor_id).where(
            Slot.start_at == datetime.combine(day, datetime.min.time().replace(hour=7), tzinfo=PARIS)
        )
    ).all()
    assert mine == [doctor_id]


def test_outcome_after_the_time(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    slot = _free_slot(db)
    _book_form(client, f"{BOARD}/creneaux/{slot.id}/reserver")
    past = datetime.now(UTC) - timedelta(hours=2)
    db.execute(update(Slot).where(Slot.id == slot.id).values(start_at=past, end_at=past + timedelta(minutes=20)))
    db.commit()
    booking = db.scalars(select(Booking).where(Booking.slot_id == slot.id)).one()
    db.commit()
    page = client.get(BOARD, params={"jour": past.astimezone(PARIS).date().isoformat()})
    assert f"/rendez-vous/{booking.id}/resultat" in page.text
    done = client.post(
        f"{BOARD}/rendez-vous/{booking.id}/resultat",
        data={"csrf_token": csrf_of(page.text), "resultat": "noshow"},
        follow_redirects=False,
    )
    assert "Absent" in flash_of(client.get(done.headers["location"]).text)
    # The indicators count it, in the table and in the CSV export.
    table = client.get("/espace/indicateurs?du=2020-01-01").text
    assert '<th scope="row">… patient absent</th><td class="num">1</td>' in table
    assert re.search(r'Créneaux de soins non programmés offerts</th><td class="num">[1-9]', table)
    assert "… patient absent;1" in client.get("/espace/indicateurs.csv?du=2020-01-01").text


def test_the_booking_form_asks_the_age_band_and_the_medecin_traitant_for_the_activity_report(client, db, demo_slots):
    sign_in(client, COORDINATOR)
    slot = _free_slot(db)
    form = client.get(f"{BOARD}/creneaux/{slot.id}/reserver").text
    assert "<legend>Âge du patient</legend>" in form and "<legend>A-t-il un médecin traitant ?</legend>" in form
    refused = _book_form(client, f"{BOARD}/creneaux/{slot.id}/reserver", age_band="100+")
    assert refused.status_code == 422
    booked = _book_form(client, f"{BOARD}/creneaux/{slot.id}/reserver", age_band="70+", has_doctor="no")
    assert booked.status_code == 303
    db.rollback()
    booking = db.scalars(select(Booking).where(Booking.slot_id == slot.id)).one()
    assert (booking.age_band, booking.has_doctor) == ("70+", "no")

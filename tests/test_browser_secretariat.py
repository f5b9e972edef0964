"""The CPTS's phone line in a real headless Chromium (FICHE 6): a secretariat account books a
caller into a volunteer doctor's slot, then, no doctor's slot being left within 48 h, into the
centre's slot worked by a named replacement doctor; médecin-traitant requests do not exist for it."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.accounts.principal import operator
from app.accounts.schemas import UserCreate
from app.accounts.service import create_user
from app.demo_people import DEMO_PASSWORD, demo_rpps
from app.doctors.schemas import Availability, DoctorCreate, LocationIn
from app.doctors.service import create_doctor
from app.requests.schemas import RequestCreate
from app.requests.service import submit_request
from app.snp import service as snp
from app.snp.models import Booking
from app.snp.schemas import CentreCreate, SlotCreate
from tests.browser import assert_accessible, chromium_page, require_browser, running_server, sign_in

pytestmark = pytest.mark.browser
EMAIL = "accueil@cpts-grand-arras.example.fr"


def _doctor(db, geocoding, n: int, family_name: str, accepting: bool) -> int:
    return create_doctor(
        db,
        geocoding,
        operator(),
        DoctorCreate(
            cpts="grand-arras",
            rpps=demo_rpps(650 + n),
            family_name=family_name,
            given_name="Claire",
            email=f"{family_name.lower()}@example.fr",
            locations=[LocationIn(address="3 rue Pasteur", postcode="62000", city="Arras")],
            availability=Availability(accepting_new_patients=accepting, capacity_remaining=10 if accepting else 0),
        ),
    ).id


@pytest.fixture
def phone_line(db, geocoding, demo_territories) -> int:
    """A secretariat account; a volunteer's slot in 5 h; the centre's slot in 8 h, worked by a
    replacement who takes no new patients; a médecin-traitant request. Returns the request's id."""
    create_user(
        db,
        UserCreate(
            email=EMAIL, display_name="Accueil", role=Role.SECRETARIAT, password=DEMO_PASSWORD, cpts=["grand-arras"]
        ),
        None,
    )
    volunteer = _doctor(db, geocoding, 1, "Volontaire", accepting=True)
    replacement = _doctor(db, geocoding, 2, "Remplacante", accepting=False)
    centre = snp.create_centre(
        db,
        geocoding,
        operator(),
        CentreCreate(
            cpts="grand-arras", name="CSNP d'Arras", address="1 place de la Gare", postcode="62000", city="Arras"
        ),
    )
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    at_centre = {"centre_id": centre.id, "worked_by_doctor_id": replacement}
    for hours, owner in ((5, {"doctor_id": volunteer}), (8, at_centre)):
        start = soon + timedelta(hours=hours)
        snp.create_slot(db, operator(), SlotCreate(**owner, start=start, end=start + timedelta(minutes=20)))
    request = submit_request(
        db,
        geocoding,
        None,
        RequestCreate(
            family_name="Patient",
            given_name="Paul",
            birth_date="1950-01-01",
            phone="0612345678",
            postcode="62000",
            city="Arras",
            no_doctor_reason="moved_in",
            consent=True,
        ),
        "http://test",
    )[0]
    db.commit()
    return request.id


def _search(page) -> None:
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Réserver pour un appelant"
    ).click()
    page.get_by_label("Code postal de l'appelant").fill("62000")
    page.get_by_label("Commune").fill("Arras")
    page.get_by_role("button", name="Chercher").click()
    page.wait_for_selector("#search-summary")


def _book(page, given_name: str) -> None:
    page.get_by_label("Nom du patient").fill("Martin")
    page.get_by_label("Prénom").fill(given_name)
    page.get_by_label("Téléphone").fill("06 12 34 56 78")
    page.get_by_label("Motif, en quelques mots").fill("Fièvre depuis hier")
    page.get_by_role("button", name="Réserver").click()
    page.wait_for_selector("#flash")
    assert f"Rendez-vous réservé pour {given_name} Martin" in page.locator("#flash").inner_text()


def test_the_secretariat_books_a_doctor_then_the_centre_worked_by_a_replacement(database_url, db, phone_line):
    require_browser()
    with running_server(database_url) as base, chromium_page() as page:
        sign_in(page, base, EMAIL)
        assert page.url == f"{base}/espace/soins-non-programmes/recherche"  # its home: the search
        _search(page)
        assert_accessible(page, "search, a doctor's slot")
        assert page.locator("#centre-fallback").count() == 0
        assert page.locator("#results tbody tr").count() == 1
        assert "Dr Claire Volontaire" in page.locator("#results").inner_text()
        page.locator("#results a.button").first.click()
        page.wait_for_selector("#slot")
        assert_accessible(page, "booking a doctor's slot")
        _book(page, "Lucie")
        assert_accessible(page, "the secretariat's board")
        assert page.get_by_role("button", name="Ajouter le créneau").count() == 0  # it publishes nothing

        _search(page)
        notice = page.locator("#centre-fallback").inner_text()
        assert notice == "Aucun créneau de médecin dans les 48 h : créneaux du centre."
        assert_accessible(page, "search, the centre as fallback")
        row = page.locator("#results tbody tr")
        assert row.count() == 1 and "CSNP d'Arras (Dr Claire Remplacante)" in row.inner_text()
        row.get_by_role("link", name="Réserver").click()
        page.wait_for_selector("#slot")
        assert page.locator("#slot-with").inner_text() == "CSNP d'Arras, assuré par le Dr Claire Remplacante"
        _book(page, "Jeanne")
        assert page.locator("li.slot.booked", has_text="Dr Claire Remplacante").count() == 1

        # A médecin-traitant request: not there for the secretariat.
        for path in (f"/espace/demandes/{phone_line}", "/espace/demandes", "/espace/mes-demandes/nouvelle"):
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 404, path
        assert_accessible(page, "404 page")
    db.rollback()
    bookings = db.scalars(select(Booking).order_by(Booking.id)).all()
    assert [(b.given_name, b.slot.centre_id is not None) for b in bookings] == [("Lucie", False), ("Jeanne", True)]

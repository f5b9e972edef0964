"""The workspace shows each role what app.accounts.policy lets it do: its home after signing
in, its navigation, and on the unscheduled-care pages the links and fields of the actions it
may take (the templates ask `caller.can(...)`)."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.demo_people import DEMO_PASSWORD
from app.snp.models import Slot
from app.snp.sas_links import sas_booking_links
from app.territories.models import Territory
from tests.helpers.workspace import COORDINATOR, DOCTOR, PROFESSIONAL, REGULATOR, sign_in

BOARD = "/espace/soins-non-programmes"


def _navigation(page: str) -> list[str]:
    nav = re.search(r"<nav.*?</nav>", page, re.S).group(0)
    return [html.unescape(label) for label in re.findall(r'<a href="[^"]+"[^>]*>([^<]+)</a>', nav)]


@pytest.mark.parametrize(
    ("email", "home", "navigation"),
    [
        (
            COORDINATOR,
            "/espace/demandes",
            [
                "Demandes",
                "Médecins",
                "Territoire",
                "Annuaire",
                "Soins non programmés",
                "Appels",
                "Sources et affiches",
                "Indicateurs",
                "Journal d'audit",
                "Droits des personnes",
                "Comptes",
            ],
        ),
        (PROFESSIONAL, "/espace/mes-demandes", ["Mes demandes", "Nouvelle demande"]),
        (DOCTOR, "/espace/mon-cabinet", ["Mon cabinet", "Mes créneaux"]),
        (REGULATOR, "/espace/accueil", []),
    ],
)
def test_each_role_lands_on_its_home_with_its_navigation(client, demo, email, home, navigation):
    client.cookies.clear()
    signed = client.post("/espace/connexion", data={"email": email, "password": DEMO_PASSWORD}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == home
    page = client.get(home)
    assert page.status_code == 200
    assert _navigation(page.text) == navigation


def test_the_coordination_books_and_publishes_for_the_cpts_a_doctor_for_itself(client, demo_slots):
    sign_in(client, COORDINATOR)
    board = client.get(BOARD).text
    assert "Réserver pour un appelant" in board
    assert 'id="slot-owner"' in board and 'id="pattern-owner"' in board

    sign_in(client, DOCTOR)
    board = client.get(BOARD)
    assert board.status_code == 200
    assert "Réserver pour un appelant" not in board.text
    assert 'id="slot-owner"' not in board.text and 'id="pattern-owner"' not in board.text
    assert client.get(f"{BOARD}/recherche").status_code == 403


def test_a_regulator_books_without_a_way_back_to_the_board(client, db, demo_slots):
    slot = db.scalars(
        select(Slot)
        .join(Territory, Territory.id == Slot.territory_id)
        .where(
            # The coordinator's own CPTS: the soonest slot of the whole demo may be Provence's (404).
            Territory.slug == "grand-arras",
            Slot.sas_visible.is_(True),
            Slot.status == "free",
            Slot.appointment_type == "ROUTINE",
            Slot.start_at > datetime.now(UTC) + timedelta(hours=1),
        )
        .order_by(Slot.start_at, Slot.id)
    ).first()
    db.commit()
    sign_in(client, COORDINATOR)
    assert "Retour au tableau" in client.get(f"{BOARD}/creneaux/{slot.id}/reserver").text

    links = sas_booking_links(client.app)
    token = links.token(slot.id, links.expires(datetime.now(UTC)))
    sign_in(client, REGULATOR)
    page = client.get(f"{BOARD}/creneaux/{slot.id}/reserver?origin=sas&sas={token}")
    assert page.status_code == 200
    assert "Retour au tableau" not in page.text
    assert 'name="origin" value="sas"' in page.text

"""The indicators count the whole way in requests (received → offered → a doctor found → first
appointment → declared médecin traitant), each request once however many doctors it was offered
to; and, for the coordination only, how each doctor answers its offers."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from app.core.database import for_writing, utcnow
from app.core.errors import Forbidden
from app.notifications.models import OutboxMessage
from app.requests import offers, reporting
from app.requests.models import DoctorOffer, PatientRequest, RequestEvent
from tests.factories import PASSWORD, add_doctor, submit
from tests.helpers.workspace import csrf_of

pytestmark = pytest.mark.usefixtures("demo_territories")
LINK = re.compile(r"(/medecins/propositions/[A-Za-z0-9_.\-]+)")
BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
YEAR = {"du": "2026-01-01", "au": "2026-12-31"}


def _sign_in(client, db, email: str = "coordinator1@test.example.fr") -> str:
    db.rollback()
    client.cookies.clear()
    response = client.post("/espace/connexion", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/espace/demandes").text)


def _offer(client, db, request_id: int, doctor_ids: list[int]) -> None:
    token = _sign_in(client, db)
    response = client.post(
        f"/espace/demandes/{request_id}/propositions", data={"csrf_token": token, "doctor_ids": doctor_ids}
    )
    assert response.status_code == 200
    client.cookies.clear()


def _link(client, db, request_id: int, doctor_id: int) -> str:
    """The link of the offer of this request to this doctor, as e-mailed."""
    db.rollback()
    offer_id = db.scalars(
        select(DoctorOffer.id).where(DoctorOffer.request_id == request_id, DoctorOffer.doctor_id == doctor_id)
    ).one()
    bodies = db.scalars(
        select(OutboxMessage.body).where(
            OutboxMessage.kind == "offer", OutboxMessage.channel == "email", OutboxMessage.doctor_id == doctor_id
        )
    ).all()
    links = [LINK.search(b).group(1) for b in bodies]
    settings = client.app.state.settings
    opened = {x: offers.offer_of_link(db, settings, x.rsplit("/", 1)[1]) for x in links}
    (link,) = [x for x, offer in opened.items() if offer is not None and offer.id == offer_id]
    return link


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


# ---- The funnel, in requests ------------------------------------------------------------------------


@pytest.fixture
def journeys(client, coordinator, make_account, db):
    """Five requests of March 2026: R1 (ALD) offered to three doctors, one accepts; R2 (CSS) offered
    to two, both decline; R3 matched by the coordinator, never offered; R4 offered to one doctor,
    then matched by the coordinator to another; R5 waits."""
    make_account("coordinator", ["grand-arras"])  # coordinator2, for the pages (coordinator1 is the API's)
    doctors = [add_doctor(client, coordinator, n, "Arras", "62000", capacity_remaining=3) for n in (1, 2, 3, 4)]
    r1 = submit(client, given_name="Un", ald=True).json()["id"]
    r2 = submit(client, given_name="Deux", css_or_ame="yes").json()["id"]
    r3 = submit(client, given_name="Trois").json()["id"]
    r4 = submit(client, given_name="Quatre").json()["id"]
    r5 = submit(client, given_name="Cinq").json()["id"]
    _offer(client, db, r1, doctors[:3])
    _offer(client, db, r2, doctors[:2])
    _offer(client, db, r4, doctors[:1])
    assert "vous prenez ce patient" in client.post(_link(client, db, r1, doctors[1]), data={"action": "accept"}).text
    for doctor in doctors[:2]:
        assert "C'est noté" in client.post(_link(client, db, r2, doctor), data={"action": "decline"}).text
    url = "/api/v1/requests/{}/transitions"
    assert client.post(url.format(r3), json={"to": "proposed"}, headers=coordinator).status_code == 200
    for request_id, doctor in ((r3, doctors[3]), (r4, doctors[2])):
        response = client.post(url.format(request_id), json={"to": "matched", "doctor_id": doctor}, headers=coordinator)
        assert response.status_code == 200, response.text
    # The dates, set: every request received on BASE; offers and matches some days later.
    db.rollback()
    db.execute(update(PatientRequest).values(created_at=BASE))
    for request_id, offered, matched in ((r1, 1, 2), (r2, 2, None), (r3, None, 4), (r4, 3, 8)):
        if offered is not None:
            db.execute(
                update(DoctorOffer)
                .where(DoctorOffer.request_id == request_id)
                .values(created_at=BASE + timedelta(days=offered))
            )
        if matched is not None:
            db.execute(
                update(RequestEvent)
                .where(RequestEvent.request_id == request_id, RequestEvent.to_status == "matched")
                .values(at=BASE + timedelta(days=matched))
            )
    db.execute(
        update(PatientRequest)
        .where(PatientRequest.id == r1)
        .values(first_visit_confirmed_at=BASE + timedelta(days=5), declared_confirmed_at=BASE + timedelta(days=12))
    )
    db.commit()
    return [r1, r2, r3, r4, r5]


def test_the_funnel_counts_requests_once_however_many_offers(client, coordinator, journeys):
    body = client.get(
        "/api/v1/territories/grand-arras/indicators",
        params={"from": "2026-01-01", "to": "2026-12-31"},
        headers=coordinator,
    ).json()
    assert body["offers"]["made"] == 6  # six offers…
    funnel = body["funnel"]
    assert {k: v for k, v in funnel.items() if not k.endswith("_by_group") and not k.startswith("median")} == {
        "received": 5,
        "offered": 3,  # …of three requests
        "accepted": 3,  # R1 through its offer, R3 and R4 by the coordinator
        "accepted_through_offer": 1,
        "accepted_by_coordinator": 2,
        "first_visit": 1,
        "declared": 1,
    }
    assert funnel["offered_by_group"] == {"ald": 1, "age_70": 0, "css": 1, "total": 3}
    assert funnel["accepted_by_group"] == {"ald": 1, "age_70": 0, "css": 0, "total": 3}
    assert funnel["median_days_received_to_offered"] == 2.0  # 1, 2 and 3 days
    assert funnel["median_days_offered_to_accepted"] == 3.0  # R1: 1 day, R4: 5 days (R3 was never offered)
    assert funnel["median_days_accepted_to_first_visit"] == 3.0
    assert funnel["median_days_first_visit_to_declared"] == 7.0


def test_the_page_its_chart_and_exports_show_the_funnel(client, db, journeys):
    _sign_in(client, db, "coordinator2@test.example.fr")
    page = client.get("/espace/indicateurs", params=YEAR).text
    assert re.search(r"Demandes proposées à au moins un médecin</th><td class=\"num\">3<", page)
    assert re.search(r"Médecin trouvé par une proposition acceptée</th><td class=\"num\">1<", page)
    assert re.search(r"Médecin trouvé par le coordinateur directement</th><td class=\"num\">2<", page)
    assert re.search(
        r"Délai médian de la première proposition au médecin trouvé \(jours\)</th><td class=\"num\">3,0<", page
    )
    assert "mises en relation directement" in page  # the text says what « médecin trouvé » counts
    charts = json.loads(re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1))
    assert charts["funnel"]["labels"][1] == "Proposées à un médecin"
    assert charts["funnel"]["values"] == [5, 3, 3, 1, 1]
    assert {g["label"]: g["values"] for g in charts["funnel"]["groups"]}["ALD"] == [1, 1, 1, 1, 1]
    rows = _csv_rows(client.get("/espace/indicateurs.csv", params=YEAR))
    assert ["Demandes proposées à au moins un médecin", "3"] in rows
    assert ["Médecin trouvé par le coordinateur directement", "2"] in rows
    sheet = load_workbook(io.BytesIO(client.get("/espace/indicateurs.xlsx", params=YEAR).content)).active
    cells = {r[0]: r[1] for r in sheet.iter_rows(values_only=True) if r and r[0]}
    assert cells["Demandes proposées à au moins un médecin"] == 3
    assert cells["Délai médian de la demande à la première proposition (jours)"] == 2.0


# ---- Acceptance and response rates per doctor ------------------------------------------------------


@pytest.fixture
def answers(client, coordinator, make_account, db, engine, monkeypatch):
    """Doctor A: declines one (2 h), lets one lapse, one pending; B: accepts one (5 h); C: withdrawn
    from one (B won), lets one lapse, accepts one (10 h)."""
    make_account("coordinator", ["grand-arras"])
    a, b, c = (add_doctor(client, coordinator, n, "Arras", "62000", capacity_remaining=3) for n in (1, 2, 3))
    start = utcnow()
    clock = [start]
    monkeypatch.setattr("app.requests.offers.utcnow", lambda: clock[0])
    r1, r2, r3, r4 = (submit(client, given_name=name).json()["id"] for name in ("Un", "Deux", "Trois", "Quatre"))
    _offer(client, db, r1, [a, b, c])
    _offer(client, db, r2, [a, c])
    _offer(client, db, r3, [c])
    clock[0] = start + timedelta(hours=2)
    assert "C'est noté" in client.post(_link(client, db, r1, a), data={"action": "decline"}).text
    clock[0] = start + timedelta(hours=5)
    assert "vous prenez ce patient" in client.post(_link(client, db, r1, b), data={"action": "accept"}).text
    clock[0] = start + timedelta(hours=10)
    assert "vous prenez ce patient" in client.post(_link(client, db, r3, c), data={"action": "accept"}).text
    clock[0] = start + timedelta(hours=73)
    with sessionmaker(bind=for_writing(engine))() as worker:
        assert offers.expire_lapsed(worker, clock[0]) == 2  # r2's two offers
        worker.commit()
    _offer(client, db, r4, [a])
    return {"a": a, "b": b, "c": c, "until": (start + timedelta(days=5)).date().isoformat()}


RATE_HEADER = [
    "médecin",
    "propositions reçues",
    "répondues",
    "acceptées",
    "déclinées",
    "sans réponse dans le délai",
    "retirées avant réponse",
    "en attente",
    "taux de réponse (%)",
    "taux d'acceptation (%)",
    "délai médian de réponse (heures)",
]


def test_the_coordinator_reads_each_doctors_rates_on_the_page_and_in_the_exports(client, db, answers):
    period = {"du": "2026-01-01", "au": answers["until"]}
    _sign_in(client, db, "coordinator2@test.example.fr")
    rows = _csv_rows(client.get("/espace/indicateurs.csv", params=period))
    table = rows[rows.index(RATE_HEADER) + 1 :]
    assert table == [
        # A: answered 1 of 2 (the pending one is not counted yet); accepted none.
        ["Dr Test Docteur1", "3", "1", "0", "1", "1", "0", "1", "50.0", "0.0", "2.0"],
        ["Dr Test Docteur2", "1", "1", "1", "0", "0", "0", "0", "100.0", "100.0", "5.0"],
        # C: the offer withdrawn when B accepted is not one C failed to answer: 1 of 2, not 1 of 3.
        ["Dr Test Docteur3", "3", "1", "1", "0", "1", "1", "0", "50.0", "100.0", "10.0"],
    ]
    sheet = load_workbook(io.BytesIO(client.get("/espace/indicateurs.xlsx", params=period).content)).active
    # Rows are as wide as the sheet's widest section (the CSNP report's): the rates' are the first 11 cells.
    values = [list(r)[: len(RATE_HEADER)] for r in sheet.iter_rows(values_only=True)]
    start = values.index(RATE_HEADER)
    assert values[start + 3][:2] == ["Dr Test Docteur3", 3] and values[start + 3][8:] == [50.0, 100.0, 10.0]
    page = client.get("/espace/indicateurs", params=period).text
    assert 'id="doctor-rates"' in page and '<th scope="col" class="num">Taux de réponse (%)</th>' in page
    row = re.search(r'<tr><th scope="row">Dr Test Docteur3</th>(.*?)</tr>', page).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == [
        "3",
        "1",
        "1",
        "0",
        "1",
        "1",
        "0",
        "50,0",
        "100,0",
        "10,0",
    ]
    assert "sans compter celles retirées avant sa réponse" in page


def test_the_rates_are_the_coordinations_only(client, db, make_account, answers):
    make_account("admin")
    _sign_in(client, db, "admin3@test.example.fr")
    page = client.get("/espace/indicateurs", params={"du": "2026-01-01", "au": answers["until"]})
    # An admin reads the indicators of a CPTS, not its doctors' rates.
    assert page.status_code == 200 and "Demandes proposées à au moins un médecin" in page.text
    assert 'id="doctor-rates"' not in page.text and "Dr Test Docteur1" not in page.text
    assert "Dr Test Docteur1" not in client.get("/espace/indicateurs.csv").content.decode("utf-8-sig")
    from app.accounts.models import Role
    from app.accounts.principal import Principal

    for role in (Role.ADMIN, Role.DOCTOR, Role.PROFESSIONAL, Role.REGULATOR):
        principal = Principal(
            user_id=None, email="x", role=role, territory_ids=frozenset(), doctor_id=None, client_address=None
        )
        with pytest.raises(Forbidden):
            reporting.doctor_rates(db, principal, "grand-arras", reporting.Period())

"""The territory page (`/espace/territoire`), its coverage rule, the invitations to volunteer,
the sign-up page and the coordination's decision, the six-month refresh campaign."""

import gzip
import html
import json
import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.core.database import utcnow
from app.demo_people import demo_rpps
from app.doctors.models import Doctor
from app.notifications.models import OutboxMessage
from app.recruitment.coverage import CommuneFacts, commune_coverage, coverage, places_by_commune
from app.recruitment.models import DoctorInvitation, VolunteerApplication
from app.requests.models import PatientRequest
from app.territories.boundaries import boundaries_of
from tests.factories import directory_practitioner
from tests.helpers.workspace import COORDINATOR, OTHER_COORDINATOR, csrf_of, flash_of, sign_in

DATA = Path(__file__).resolve().parent.parent / "app" / "territories" / "data" / "boundaries.txt.gz"


# ---- The coverage rule, with numbers ---------------------------------------------------------


def test_coverage_counts_per_thousand_and_lists_where_to_recruit_first():
    today = date(2026, 12, 4)
    facts = [
        CommuneFacts("1", "Couverte", 1000, gps=1, volunteers=1, places=5, waiting_since=(today,)),
        CommuneFacts("2", "Vide", 500, gps=0, volunteers=0, places=0, waiting_since=()),
        CommuneFacts(
            "3",
            "En manque",
            2000,
            gps=2,
            volunteers=1,
            places=1,
            waiting_since=(today - timedelta(days=10), today - timedelta(days=20), today - timedelta(days=40)),
        ),
        CommuneFacts("4", "Pire", 800, gps=1, volunteers=0, places=0, waiting_since=(today - timedelta(days=3),) * 4),
    ]
    rows = coverage(facts, today)
    assert [r.name for r in rows] == ["Pire", "En manque", "Vide", "Couverte"]
    worst, short, empty, covered = rows
    assert (worst.shortfall, worst.recruit_here, worst.median_wait_days) == (4, True, 3.0)
    assert (short.gps_per_1000, short.places_per_1000, short.waiting, short.median_wait_days) == (1.0, 0.5, 3, 20.0)
    assert (short.shortfall, short.recruit_here) == (2, True)
    assert (empty.gps_per_1000, empty.waiting, empty.median_wait_days, empty.recruit_here) == (0.0, 0, None, False)
    assert (covered.places_per_1000, covered.shortfall, covered.recruit_here) == (5.0, 0, False)


def test_coverage_without_population_has_no_ratio_and_even_waits_take_the_middle():
    today = date(2026, 12, 4)
    row = commune_coverage(
        CommuneFacts("9", "Sans chiffre", 0, 1, 1, 2, (today - timedelta(days=1), today - timedelta(days=4))), today
    )
    assert (row.gps_per_1000, row.places_per_1000, row.median_wait_days, row.shortfall) == (None, None, 2.5, 0)


def test_places_count_once_in_the_first_practice_commune_and_only_when_accepting():
    places = places_by_commune([("62041", True, 10), ("62041", True, 5), ("62065", False, 30), (None, True, 9)])
    assert places == {"62041": 15}


# ---- The boundaries file ----------------------------------------------------------------------


def test_the_boundaries_file_is_small_and_gives_arras_its_shape():
    assert DATA.stat().st_size < 4_000_000  # all of France, gzipped
    with gzip.open(DATA, "rt", encoding="utf-8") as lines:
        assert sum(1 for _ in lines) > 34_000
    shapes = boundaries_of(["62041", "62065", "99999"])
    assert set(shapes) == {"62041", "62065"}  # an unknown code is left out
    outer = shapes["62041"][0][0]
    assert len(outer) > 10
    latitudes, longitudes = [p[0] for p in outer], [p[1] for p in outer]
    assert 50.25 < min(latitudes) < max(latitudes) < 50.33  # Arras, around 50.29 N 2.78 E
    assert 2.70 < min(longitudes) < max(longitudes) < 2.85


# ---- The page ----------------------------------------------------------------------------------


def _map_of(page: str) -> dict:
    return json.loads(html.unescape(re.search(r'data-map="([^"]*)"', page).group(1)))


@pytest.fixture
def gps(db, demo):
    """Two GPs of the Grand Arras's directory (one with an e-mail), one of Provence Santé's."""
    with_email = directory_practitioner(
        db, "grand-arras", 1, family_name="Courriel", practices=[{"email": "dr.courriel@example.fr"}]
    )
    without = directory_practitioner(
        db,
        "grand-arras",
        2,
        family_name="Papier",
        practices=[
            {
                "address": "2 place de la Mairie",
                "insee_code": "62099",
                "postcode": "62217",
                "city": "Beaurains",
                "latitude": None,
            }
        ],
    )
    elsewhere = directory_practitioner(
        db,
        "provence-sante",
        3,
        family_name="Provencal",
        practices=[{"address": "1 cours Mirabeau", "postcode": "13790", "insee_code": "13087", "city": "Rousset"}],
    )
    db.commit()
    return {"email": with_email.rpps, "letter": without.rpps, "other": elsewhere.rpps}


def test_the_page_maps_communes_and_every_gp_with_counts_and_no_patient(client, db, gps):
    sign_in(client, COORDINATOR)
    page = client.get("/espace/territoire")
    assert page.status_code == 200
    data = _map_of(page.text)
    communes = {c["insee"]: c for c in data["communes"]}
    assert len(communes) == 32 and communes["62041"]["polygons"]  # the demo's Grand Arras, with boundaries
    waiting = db.scalars(
        select(PatientRequest).where(
            PatientRequest.insee_code == "62041", PatientRequest.status.in_(("received", "proposed"))
        )
    ).all()
    assert communes["62041"]["waiting"] == len(waiting) > 0
    labels = " ".join(d["label"] for d in data["doctors"])
    assert "Dr Claire Courriel (Arras) : non volontaire" in labels
    assert "Dr Claire Papier (Beaurains)" in labels  # not geocoded: at its commune's centre
    assert "volontaire, " in labels  # the demo's volunteers too
    for request in waiting:  # counts only: no person on the map, nor anywhere on the page
        assert f"{request.given_name} {request.family_name}" not in page.text
        assert request.phone not in page.text and request.phone[-8:] not in page.text
    assert "Provencal" not in page.text
    assert "(position approximative)" in page.text
    assert 'id="coverage"' in page.text and 'id="gps"' in page.text


def test_filters_keep_non_volunteers_stale_ones_or_a_commune(client, db, gps):
    sign_in(client, COORDINATOR)
    others = client.get("/espace/territoire?voir=non-volontaires").text
    rows = re.findall(r'<tr data-rpps="(\d+)"', others)
    assert set(rows) == {gps["email"], gps["letter"]}
    assert all(d["kind"] == "other" for d in _map_of(others)["doctors"])
    volunteers = client.get("/espace/territoire?voir=volontaires").text
    assert gps["email"] not in re.findall(r'<tr data-rpps="(\d+)"', volunteers)
    stale = db.scalars(select(Doctor).where(Doctor.rpps == demo_rpps(2))).one()
    stale.confirmed_at = utcnow() - timedelta(days=200)
    db.commit()
    stale_page = client.get("/espace/territoire?voir=a-confirmer").text
    listed = re.findall(r'<tr data-rpps="(\d+)"', stale_page)
    assert stale.rpps in listed
    for doctor in db.scalars(select(Doctor).where(Doctor.rpps.in_(listed))):
        assert doctor.is_stale()
    beaurains = client.get("/espace/territoire?commune=62099&voir=tous").text
    assert re.findall(r'<tr data-rpps="(\d+)"', beaurains).count(gps["letter"]) == 1
    assert gps["email"] not in re.findall(r'<tr data-rpps="(\d+)"', beaurains)
    hostile = client.get("/espace/territoire?voir=<script>&commune=zzzzz")
    assert hostile.status_code == 200 and "<script>" not in hostile.text.split("<main", 1)[1].split("</main>")[0]


# ---- Scoping -----------------------------------------------------------------------------------


def _invite(client, page_path: str, rpps: list[str], **emails) -> object:
    page = client.get(page_path)
    data = {"csrf_token": csrf_of(page.text), "rpps": rpps, **{f"email_{k}": v for k, v in emails.items()}}
    return client.post("/espace/territoire/invitations", data=data, follow_redirects=False)


def test_a_coordinator_of_another_cpts_sees_and_touches_nothing_of_this_one(client, db, gps):
    sign_in(client, COORDINATOR)
    letter = _invite(client, "/espace/territoire", [gps["letter"]])
    invitation_id = db.scalars(select(DoctorInvitation.id)).one()
    assert letter.headers["location"] == f"/espace/territoire/lettres?ids={invitation_id}"

    sign_in(client, OTHER_COORDINATOR)
    page = client.get("/espace/territoire").text
    assert "Courriel" not in page and "Papier" not in page and "Provencal" in page
    assert "62041" not in {c["insee"] for c in _map_of(page)["communes"]}
    assert client.get(f"/espace/territoire/lettres?ids={invitation_id}").status_code == 404
    refused = _invite(client, "/espace/territoire", [gps["email"]])
    assert refused.status_code == 303
    assert "absent de l'annuaire" in html.unescape(flash_of(client.get(refused.headers["location"]).text))
    assert db.scalars(select(DoctorInvitation)).all()[-1].rpps == gps["letter"]  # nothing new
    application = _signup(client, _letter_link(client, db, invitation_id, COORDINATOR))
    sign_in(client, OTHER_COORDINATOR)
    page = client.get("/espace/territoire/candidatures")
    assert "Papier" not in page.text
    csrf = csrf_of(page.text)
    for action in ("accepter", "refuser"):
        answer = client.post(f"/espace/territoire/candidatures/{application}/{action}", data={"csrf_token": csrf})
        assert answer.status_code == 404
    db.rollback()  # a fresh snapshot
    assert db.get(VolunteerApplication, application).status == "pending"


def test_a_professional_may_not_open_the_territory_page(client, demo):
    from tests.helpers.workspace import PROFESSIONAL

    sign_in(client, PROFESSIONAL)
    assert client.get("/espace/territoire").status_code == 403


# ---- Invitations -------------------------------------------------------------------------------


def _letter_link(client, db, invitation_id: int, coordinator: str) -> str:
    sign_in(client, coordinator)
    letters = client.get(f"/espace/territoire/lettres?ids={invitation_id}").text
    return html.unescape(re.search(r'<p class="link">([^<]+)</p>', letters).group(1))


def test_without_an_e_mail_the_invitation_is_a_printable_letter_with_a_qr_code(client, db, gps):
    sign_in(client, COORDINATOR)
    answer = _invite(client, "/espace/territoire?voir=non-volontaires", [gps["letter"]])
    letters = client.get(answer.headers["location"])
    assert "1 lettre(s) à imprimer" in flash_of(letters.text)
    assert 'src="data:image/svg+xml;base64,' in letters.text
    assert "Docteur Papier," in letters.text and "2 place de la Mairie" in letters.text
    link = html.unescape(re.search(r'<p class="link">([^<]+)</p>', letters.text).group(1))
    assert link.startswith("http://127.0.0.1:8000/medecins/devenir-volontaire/")
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "doctor_invitation")).all() == []
    invitation = db.scalars(select(DoctorInvitation)).one()
    assert (invitation.channel, invitation.email) == ("letter", None)
    page = client.get("/espace/territoire?voir=non-volontaires").text
    assert f"/espace/territoire/lettres?ids={invitation.id}" in page  # the letter, again


def test_an_e_mail_known_or_typed_sends_the_invitation_through_the_outbox(client, db, gps):
    sign_in(client, COORDINATOR)
    answer = _invite(
        client, "/espace/territoire", [gps["email"], gps["letter"]], **{gps["letter"]: "papier@example.fr"}
    )
    assert answer.headers["location"].startswith("/espace/territoire")
    assert "Invitation envoyée par e-mail à dr.courriel@example.fr, papier@example.fr" in flash_of(
        client.get(answer.headers["location"]).text
    )
    messages = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "doctor_invitation")).all()
    assert sorted(m.recipient for m in messages) == ["dr.courriel@example.fr", "papier@example.fr"]
    assert all("/medecins/devenir-volontaire/" in m.body and m.subject for m in messages)
    bad = _invite(client, "/espace/territoire", [gps["email"]], **{gps["email"]: "pas une adresse"})
    assert bad.status_code == 422 and "Adresse e-mail invalide" in bad.text
    nothing = _invite(client, "/espace/territoire", [])
    assert nothing.status_code == 422


def test_a_volunteer_is_not_invited_even_deactivated(client, db, gps):
    for n in (1, 2):  # the directory lists two volunteers; the second's record is switched off
        directory_practitioner(db, "grand-arras", 10 + n, family_name=f"Inscrit{n}", rpps=demo_rpps(n))
    db.scalars(select(Doctor).where(Doctor.rpps == demo_rpps(2))).one().active = False
    db.commit()
    sign_in(client, COORDINATOR)
    page = client.get("/espace/territoire?voir=non-volontaires").text
    row = re.search(rf'<tr data-rpps="{demo_rpps(2)}">.*?</tr>', page, re.S).group(0)
    assert "fiche désactivée" in row and 'type="checkbox"' not in row
    assert f'<tr data-rpps="{demo_rpps(1)}">' not in page  # a volunteer
    answer = _invite(client, "/espace/territoire", [demo_rpps(1), demo_rpps(2)])
    assert answer.status_code == 303 and db.scalars(select(DoctorInvitation)).all() == []
    assert html.unescape(flash_of(client.get(answer.headers["location"]).text)).count("déjà inscrit") == 2


# ---- Sign-up and approval ------------------------------------------------------------------------


SIGNUP = {
    "rpps": demo_rpps(5002),
    "civility": "DR",
    "family_name": "Papier",
    "given_name": "Claire",
    "email": "claire.papier@example.fr",
    "address": "2 place de la Mairie",
    "postcode": "62217",
    "city": "Beaurains",
    "accepting_new_patients": "yes",
    "capacity_remaining": "25",
    "priority_only": "yes",
    "home_visits": "yes",
    "languages": "fr, en",
    "max_distance_km": "15",
}


def _signup(client, link: str, **changes) -> int:
    client.cookies.clear()
    path = urlsplit(link).path
    form = client.get(path)
    assert form.status_code == 200
    answer = client.post(path, data={**SIGNUP, **changes})
    assert answer.status_code == 200, answer.text
    assert 'id="signup-done"' in answer.text
    return max(client.app.state.read_sessions().scalars(select(VolunteerApplication.id)).all())


def test_signing_up_from_a_letter_then_approval_makes_the_volunteer(client, db, gps):
    sign_in(client, COORDINATOR)
    _invite(client, "/espace/territoire", [gps["letter"]])
    invitation = db.scalars(select(DoctorInvitation)).one()
    link = _letter_link(client, db, invitation.id, COORDINATOR)
    client.cookies.clear()
    prefilled = client.get(urlsplit(link).path).text
    assert f'value="{gps["letter"]}"' in prefilled and 'value="Papier"' in prefilled  # from the directory
    application_id = _signup(client, link)
    db.rollback()  # a fresh snapshot: the app wrote since
    application = db.get(VolunteerApplication, application_id)
    assert (application.in_directory, application.insee_code, application.invitation_id) == (
        True,
        "62099",
        invitation.id,
    )

    sign_in(client, COORDINATOR)
    listing = client.get("/espace/territoire/candidatures")
    assert "Dr Claire Papier" in listing.text and "absent de l'annuaire" not in listing.text
    approved = client.post(
        f"/espace/territoire/candidatures/{application_id}/accepter",
        data={"csrf_token": csrf_of(listing.text)},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    db.rollback()  # a fresh snapshot
    doctor = db.scalars(select(Doctor).where(Doctor.rpps == gps["letter"])).one()
    assert approved.headers["location"] == f"/espace/medecins/{doctor.id}"
    assert (doctor.accepting_new_patients, doctor.capacity_remaining, doctor.priority_only) == (True, 25, True)
    assert (doctor.home_visits, doctor.languages, doctor.max_distance_km) == (True, ["en", "fr"], 15)
    assert doctor.locations[0].insee_code == "62099" and doctor.email == "claire.papier@example.fr"
    db.rollback()  # a fresh snapshot: the app wrote since
    assert db.get(VolunteerApplication, application_id).status == "approved"
    page = client.get("/espace/territoire?voir=volontaires").text
    assert gps["letter"] in re.findall(r'<tr data-rpps="(\d+)"', page)  # now a volunteer, met on its RPPS
    again = client.post(
        f"/espace/territoire/candidatures/{application_id}/accepter", data={"csrf_token": csrf_of(page)}
    )
    assert "déjà reçu une réponse" in html.unescape(flash_of(again.text))


def test_a_direct_sign_up_outside_the_directory_is_flagged_and_may_be_rejected(client, db, demo):
    rpps = demo_rpps(7777)
    application_id = _signup(
        client,
        "/medecins/devenir-volontaire",
        rpps=rpps,
        address="10 rue Neuve",
        postcode="62000",
        city="Arras",
    )
    db.rollback()  # a fresh snapshot: the app wrote since
    assert db.get(VolunteerApplication, application_id).in_directory is False
    sign_in(client, COORDINATOR)
    listing = client.get("/espace/territoire/candidatures").text
    assert "absent de l'annuaire de la CPTS : à vérifier" in listing
    client.post(f"/espace/territoire/candidatures/{application_id}/refuser", data={"csrf_token": csrf_of(listing)})
    db.rollback()  # a fresh snapshot: the app wrote since
    assert db.get(VolunteerApplication, application_id).status == "rejected"
    assert db.scalars(select(Doctor).where(Doctor.rpps == rpps)).first() is None


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"rpps": "10000000001"}, 422, "rpps"),  # the Luhn key does not match
        ({"rpps": "abc"}, 422, "rpps"),
        ({"postcode": "6200"}, 422, "postcode"),
        ({"city": "Marseille", "postcode": "13001"}, 422, "city"),  # served by no CPTS of the deployment
        ({"email": "nope"}, 422, "email"),
        ({"capacity_remaining": "beaucoup"}, 422, "capacity_remaining"),
        ({"capacity_remaining": "-1"}, 422, "capacity_remaining"),
        ({"family_name": "x" * 5000}, 422, "family_name"),
        ({"civility": "ROI"}, 422, "civility"),
        ({"website": "http://spam.example"}, 422, "website"),
        ({"rpps": demo_rpps(1)}, 409, "rpps"),  # already a volunteer
    ],
)
def test_hostile_sign_ups_are_refused_with_the_field_named(client, db, demo, changes, status, field):
    answer = client.post("/medecins/devenir-volontaire", data={**SIGNUP, "rpps": demo_rpps(7001), **changes})
    assert answer.status_code == status, answer.text
    assert f'href="#{field}"' in answer.text
    assert db.scalars(select(VolunteerApplication)).all() == []


def test_a_second_pending_sign_up_and_an_altered_link_are_refused(client, db, demo):
    _signup(client, "/medecins/devenir-volontaire", rpps=demo_rpps(7002), postcode="62000", city="Arras")
    again = client.post(
        "/medecins/devenir-volontaire", data={**SIGNUP, "rpps": demo_rpps(7002), "postcode": "62000", "city": "Arras"}
    )
    assert again.status_code == 409 and "attend déjà" in again.text
    assert client.get("/medecins/devenir-volontaire/not-a-token").status_code == 404
    assert client.post("/medecins/devenir-volontaire/not-a-token", data=SIGNUP).status_code == 404
    assert (
        client.post("/medecins/devenir-volontaire", content=b"\xff\xfe", headers={"content-type": "x/y"}).status_code
        < 500
    )


def test_the_sign_up_is_rate_limited(settings, engine, demo):
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(settings.model_copy(update={"intake_per_minute": 2}))
    with TestClient(app) as limited:
        codes = [limited.post("/medecins/devenir-volontaire", data={"rpps": "x"}).status_code for _ in range(3)]
    app.state.engine.dispose()
    assert codes == [422, 422, 429]


# ---- The six-month refresh ------------------------------------------------------------------------


def test_the_campaign_tells_fresh_answered_reminded_and_never_reminded(client, db, demo):
    from app.accounts.principal import operator
    from app.doctors.reminders import remind_one

    doctors = {n: db.scalars(select(Doctor).where(Doctor.rpps == demo_rpps(n))).one() for n in (1, 2, 3, 4)}
    old = utcnow() - timedelta(days=200)
    for doctor in doctors.values():
        doctor.confirmed_at = old
    db.commit()
    for n in (2, 3):  # reminded; 3 answers
        remind_one(db, client.app.state.settings, "http://test", operator(), doctors[n].id)
    db.commit()
    doctors[3].confirmed_at = utcnow() + timedelta(minutes=1)
    doctors[4].confirmed_at = utcnow()  # confirmed by itself, never reminded
    db.commit()
    sign_in(client, COORDINATOR)
    page = client.get("/espace/territoire/campagne").text

    def state(doctor):
        row = re.search(rf'<tr class="state-(\w+)">\s*<td><a href="/espace/medecins/{doctor.id}"', page)
        return row.group(1)

    assert [state(doctors[n]) for n in (1, 2, 3, 4)] == ["to_remind", "no_answer", "answered", "fresh"]
    assert page.index(f"/espace/medecins/{doctors[2].id}") < page.index(f"/espace/medecins/{doctors[1].id}")


def test_the_unscheduled_care_slots_of_the_next_seven_days_are_counted_by_commune(client, db, demo_slots):
    from app.doctors.models import PracticeLocation
    from app.snp.models import Centre, Slot
    from app.territories.models import Territory

    arras = db.scalars(select(Territory).where(Territory.slug == "grand-arras")).one()
    now = utcnow()
    expected: dict[str, int] = {}
    for slot in db.scalars(
        select(Slot).where(
            Slot.territory_id == arras.id,
            Slot.status == "free",
            Slot.start_at >= now,
            Slot.start_at < now + timedelta(days=7),
        )
    ):
        place = db.get(PracticeLocation, slot.location_id) if slot.location_id else db.get(Centre, slot.centre_id)
        expected[place.insee_code] = expected.get(place.insee_code, 0) + 1
    assert sum(expected.values()) > 0  # the demo publishes two weeks of slots
    sign_in(client, COORDINATOR)
    page = client.get("/espace/territoire").text
    shown = {c["insee"]: c["snp"] for c in _map_of(page)["communes"] if c["snp"]}
    assert shown == expected
    assert f"{sum(expected.values())} créneaux de soins non programmés libres dans les 7 jours" in page


def test_a_nul_byte_in_the_sign_up_is_refused_not_stored(client, db, demo):
    answer = client.post("/medecins/devenir-volontaire", data={**SIGNUP, "family_name": "Pa\x00pier"})
    assert answer.status_code == 422
    assert db.scalars(select(VolunteerApplication)).all() == []


def test_a_volunteer_whose_availability_ended_offers_no_place(client, db, demo):
    sign_in(client, COORDINATOR)
    doctor = db.scalars(
        select(Doctor)
        .where(Doctor.accepting_new_patients.is_(True), Doctor.capacity_remaining > 0)
        .where(Doctor.territory.has(slug="grand-arras"))
        .order_by(Doctor.id)
    ).first()
    commune = doctor.locations[0].insee_code
    before = {c["insee"]: c["places"] for c in _map_of(client.get("/espace/territoire").text)["communes"]}
    doctor.available_until = date.today() - timedelta(days=2)
    db.commit()
    page = client.get("/espace/territoire?voir=volontaires").text
    after = {c["insee"]: c["places"] for c in _map_of(page)["communes"]}
    assert after[commune] == before[commune] - doctor.capacity_remaining
    row = re.search(rf'<tr data-rpps="{doctor.rpps}">.*?</tr>', page, re.S).group(0)
    assert "fermé" in row

"""INT_R02 (the SAS creates and updates regulator accounts) and the appointment push to the
SAS platform after a regulator's booking, against a fake platform on loopback."""

import ssl
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.core.settings import PLACEHOLDER_APPOINTMENT_SYSTEM, Settings
from app.demo_people import demo_rpps
from app.main import create_app
from app.notifications.models import OutboxMessage
from app.notifications.outbox import OutboxWorker
from app.notifications.senders import SasAppointmentSender, sas_tls_context
from app.snp import service
from app.snp.models import RegulatorIdentifier
from app.snp.schemas import BookingCreate
from tests.fakes.sas import CLIENT_CN, FakeSas, SasPki
from tests.helpers.cli import ORIENTATION, command_env

pytestmark = pytest.mark.usefixtures("demo_territories")


@pytest.fixture
def settings(settings):
    """These tests call /fhir without a client certificate (test_fhir_transport has the
    certificates; test_hardening_sasauth that the default is closed): opened on purpose."""
    return settings.model_copy(update={"fhir_client_auth": "none"})


# The guide's example (example-practitioner-regul1.fsh).
REGULATOR = {
    "resourceType": "Practitioner",
    "meta": {"source": "urn:oid:1.2.250.1.213.3.6"},
    "identifier": [
        {
            "type": {"coding": [{"system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203", "code": "IDNPS"}]},
            "system": "urn:oid:1.2.250.1.71.4.2.1",
            "value": "3456780581/11242343",
        }
    ],
    "active": True,
    "name": [{"family": "Loridon", "given": ["Sébastien"]}],
    "telecom": [{"system": "email", "value": "sebastien.loridon@test.com"}],
}
FHIR = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def test_the_sas_creates_a_regulator_account(client, db):
    response = client.post("/fhir/Practitioner", json=REGULATOR, headers=FHIR)
    assert response.status_code == 201
    location = response.headers["Location"]
    assert "/fhir/Practitioner/reg-" in location
    user = db.scalars(select(User).where(User.email == "sebastien.loridon@test.com")).one()
    assert (user.role, user.active, user.display_name, user.password_hash) == (
        "regulator",
        True,
        "Sébastien Loridon",
        None,
    )
    read = client.get(location.split("127.0.0.1:8000")[-1])
    assert read.status_code == 200 and read.json()["identifier"][0]["value"] == "3456780581/11242343"
    # FrPractitionerRegul.fsh sets no ^url: its canonical is the guide's base + its Id.
    assert read.json()["meta"]["profile"] == [
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/FrPractitionerRegul"
    ]
    # The welcome e-mail with a link to choose a password went to the outbox.
    welcome = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "regulator_welcome")).one()
    assert welcome.recipient == "sebastien.loridon@test.com" and "/comptes/invitation/" in welcome.body


def test_a_new_regulator_chooses_a_password_from_its_welcome_link(client, db):
    client.post("/fhir/Practitioner", json=REGULATOR, headers=FHIR)
    body = db.scalars(select(OutboxMessage.body).where(OutboxMessage.kind == "regulator_welcome")).one()
    path = "/comptes/" + body.split("/comptes/")[1].split()[0]
    page = client.get(path)
    assert page.status_code == 200 and "sebastien.loridon@test.com" in page.text
    mismatch = client.post(path, data={"password": "un long mot de passe", "confirmation": "autre chose"})
    assert mismatch.status_code == 422 and "identiques" in mismatch.text
    short = client.post(path, data={"password": "court", "confirmation": "court"})
    assert short.status_code == 422
    done = client.post(path, data={"password": "un long mot de passe", "confirmation": "un long mot de passe"})
    assert done.status_code == 200 and "enregistré" in done.text
    login = client.post(
        "/api/v1/auth/login", json={"email": "sebastien.loridon@test.com", "password": "un long mot de passe"}
    )
    assert login.status_code == 200 and login.json()["user"]["role"] == "regulator"
    assert client.get(path).status_code == 404  # spent


def test_a_conditional_update_changes_or_creates_the_account(client, db):
    client.post("/fhir/Practitioner", json=REGULATOR, headers=FHIR)
    sas_id = "b6e39355-8a61-4556-b340-36f7b95fec6a"
    changed = REGULATOR | {
        "active": False,
        "identifier": REGULATOR["identifier"]
        + [
            {
                "type": {"coding": [{"system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203", "code": "INTRN"}]},
                "system": "urn:oid:1.2.250.1.213.3.6",
                "value": sas_id,
            }
        ],
    }
    response = client.put(
        "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|3456780581/11242343", json=changed, headers=FHIR
    )
    assert response.status_code == 200 and response.headers["Location"]
    db.expire_all()
    user = db.scalars(select(User).where(User.email == "sebastien.loridon@test.com")).one()
    assert user.active is False
    # Now found by the SAS technical identifier as well.
    again = client.put(
        f"/fhir/Practitioner?identifier=urn:oid:1.2.250.1.213.3.6|{sas_id}",
        json=changed | {"active": True},
        headers=FHIR,
    )
    assert again.status_code == 200
    # An identifier nobody has: the update creates the account (the guide's idempotence).
    other = REGULATOR | {
        "identifier": [{"system": "urn:oid:1.2.250.1.213.3.6", "value": "0f0e0d0c-aaaa-bbbb-cccc-123456789abc"}],
        "telecom": [{"system": "email", "value": "autre.regulateur@test.com"}],
    }
    created = client.put(
        "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.213.3.6|0f0e0d0c-aaaa-bbbb-cccc-123456789abc",
        json=other,
        headers=FHIR,
    )
    assert created.status_code == 201


@pytest.mark.parametrize("given", [["Jean Pierre"], ["Jean", "Pierre"]])
def test_a_compound_name_comes_back_as_it_was_sent(client, db, given):
    body = REGULATOR | {"name": [{"family": "DE LA TOUR", "given": given}]}
    location = client.post("/fhir/Practitioner", json=body, headers=FHIR).headers["Location"]
    read = client.get(location.split("127.0.0.1:8000")[-1]).json()
    assert read["name"] == [{"family": "DE LA TOUR", "given": given}]
    user = db.scalars(select(User).where(User.role == "regulator")).one()
    assert user.display_name == "Jean Pierre DE LA TOUR"


SAS_ONLY = REGULATOR | {
    "identifier": [
        {
            "type": {"coding": [{"system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203", "code": "INTRN"}]},
            "system": "urn:oid:1.2.250.1.213.3.6",
            "value": "b6e39355-8a61-4556-b340-36f7b95fec6a",
        }
    ]
}


def test_a_national_identifier_newly_given_updates_the_account_known_by_its_sas_identifier(client, db):
    """The guide's create-or-update: the account created under the SAS technical identifier is
    the one a later PUT ?identifier=<national> (same e-mail) updates, not a 422."""
    first = client.post("/fhir/Practitioner", json=SAS_ONLY, headers=FHIR)
    assert first.status_code == 201
    national = REGULATOR | {"name": [{"family": "Loridon", "given": ["Sébastien", "Paul"]}]}
    response = client.put(
        "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|3456780581/11242343", json=national, headers=FHIR
    )
    assert response.status_code == 200
    assert response.headers["Location"] == first.headers["Location"]
    kept = {(i["system"], i["value"]) for i in response.json()["identifier"]}
    assert kept == {
        ("urn:oid:1.2.250.1.213.3.6", "b6e39355-8a61-4556-b340-36f7b95fec6a"),
        ("urn:oid:1.2.250.1.71.4.2.1", "3456780581/11242343"),
    }
    assert len(db.scalars(select(User).where(User.role == "regulator")).all()) == 1
    # Another national identifier for that e-mail is another person: refused.
    other = REGULATOR | {
        "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "3999999999/99999999"}],
    }
    refused = client.put(
        "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|3999999999/99999999", json=other, headers=FHIR
    )
    assert refused.status_code == 422


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        ({"resourceType": "Patient"}, "Practitioner"),
        (REGULATOR | {"identifier": []}, "Practitioner.identifier"),
        (REGULATOR | {"identifier": [{"system": "urn:oid:9.9.9", "value": "x"}]}, "Practitioner.identifier.system"),
        (REGULATOR | {"name": [{"family": "Loridon"}]}, "Practitioner.name"),
        (REGULATOR | {"telecom": [{"system": "email", "value": "pas-une-adresse"}]}, "Practitioner.telecom.value"),
        (REGULATOR | {"active": "oui"}, "Practitioner.active"),
        (REGULATOR | {"meta": {"source": "urn:oid:1.2.3"}}, "Practitioner.meta.source"),
    ],
)
def test_a_bad_regulator_resource_is_a_400_operation_outcome(client, body, expression):
    response = client.post("/fhir/Practitioner", json=body, headers=FHIR)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["expression"] == [expression]


def test_unreadable_json_and_missing_identifier_parameter_are_400(client):
    assert client.post("/fhir/Practitioner", content=b"{not json", headers=FHIR).status_code == 400
    assert client.put("/fhir/Practitioner", json=REGULATOR, headers=FHIR).status_code == 400


def test_an_email_owned_by_another_account_is_a_422(client, make_account, db):
    make_account("coordinator", ["grand-arras"])
    taken = db.scalars(select(User.email).where(User.role == "coordinator")).first()
    body = REGULATOR | {"telecom": [{"system": "email", "value": taken}]}
    response = client.post("/fhir/Practitioner", json=body, headers=FHIR)
    assert response.status_code == 422 and response.json()["issue"][0]["code"] == "business-rule"


# ---- Appointment push ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return SasPki(tmp_path_factory.mktemp("sas-pki"))


@pytest.fixture
def fake_sas(pki):
    with FakeSas(pki) as sas:
        yield sas


@pytest.fixture
def sas_client(settings, engine, fake_sas, pki):
    app = create_app(
        settings.model_copy(
            update=pki.settings(fake_sas.url, appointment_identifier_system="https://cpts.example.fr/rdv")
        )
    )
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def booked_by_regulator(sas_client, make_account, db):
    """A slot booked through the SAS path by the guide's example regulator: the booking id."""
    sas_client.post("/fhir/Practitioner", json=REGULATOR, headers=FHIR)
    user = db.scalars(select(User).where(User.role == "regulator")).one()
    return _booked_by(sas_client, make_account, db, user)


def _booked_by(sas_client, make_account, db, user: User) -> tuple[int, dict[str, str]]:
    coordinator = make_account("coordinator", ["grand-arras"])
    doctor = sas_client.post(
        "/api/v1/doctors",
        headers=coordinator,
        json={
            "cpts": "grand-arras",
            "rpps": demo_rpps(960),
            "family_name": "Vasseur",
            "given_name": "Inès",
            "email": "ines.vasseur@example.fr",
            "locations": [{"address": "3 rue Pasteur", "postcode": "62000", "city": "Arras"}],
        },
    ).json()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    slot = sas_client.post(
        "/api/v1/snp/slots",
        headers=coordinator,
        json={
            "doctor_id": doctor["id"],
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=20)).isoformat(),
            "visibility": ["SNP", "CPTS"],
        },
    ).json()
    regulator = Principal(user.id, user.email, Role.REGULATOR, frozenset(), None, None)
    settings = sas_client.app.state.settings
    booking = service.book(
        db,
        settings,
        regulator,
        slot["id"],
        BookingCreate(family_name="Secret", given_name="Patient", phone="0612345678", reason="Douleur thoracique"),
        origin="sas",
    )
    db.commit()
    return booking.id, coordinator


def test_a_regulator_without_an_identifier_is_still_named_as_the_operator(sas_client, fake_sas, make_account, db):
    """FrAppointmentOperator is 1..1: a regulator account the SAS did not create (no national
    nor SAS identifier stored) is named by our own identifier of the account."""
    sas_client.post("/fhir/Practitioner", json=REGULATOR, headers=FHIR)
    user = db.scalars(select(User).where(User.role == "regulator")).one()
    db.execute(delete(RegulatorIdentifier))  # as an account made at the command line has none
    db.commit()
    booking_id, coordinator = _booked_by(sas_client, make_account, db, user)
    _deliver(sas_client)
    sas_client.post(f"/api/v1/snp/bookings/{booking_id}/cancel", headers=coordinator)
    _deliver(sas_client)
    operators = [r.resource["extension"][0]["valueReference"]["identifier"] for r in fake_sas.received]
    assert [r.method for r in fake_sas.received] == ["POST", "PUT"]
    assert (
        operators[0]
        == operators[1]
        == {
            "type": {"coding": [{"system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203", "code": "INTRN"}]},
            "system": "https://cpts.example.fr/rdv",
            "value": f"regulateur-{user.id}",
        }
    )


def _deliver(client, times: int = 1, later: timedelta = timedelta(0), **changes) -> None:
    """Runs the worker; `changes`: settings of its own (e.g. another certificate)."""
    worker = OutboxWorker(client.app.state.settings.model_copy(update=changes), client.app.state.write_sessions)
    for _ in range(times):
        worker.run_once(now=datetime.now(UTC) + later)


def test_a_regulators_booking_is_pushed_then_its_cancellation(sas_client, fake_sas, booked_by_regulator):
    booking_id, coordinator = booked_by_regulator
    _deliver(sas_client)
    assert [(r.method, r.identifier) for r in fake_sas.received] == [("POST", None)]
    assert fake_sas.received[0].client_subject == CLIENT_CN  # over mutual TLS, with our certificate
    pushed = fake_sas.received[0].resource
    assert pushed["status"] == "booked"
    assert pushed["extension"][0]["valueReference"]["identifier"]["value"] == "3456780581/11242343"
    assert pushed["participant"][0]["actor"]["identifier"]["value"] == "8" + demo_rpps(960)
    assert pushed["identifier"][0]["system"] == "https://cpts.example.fr/rdv"

    assert sas_client.post(f"/api/v1/snp/bookings/{booking_id}/cancel", headers=coordinator).status_code == 200
    _deliver(sas_client)
    key = f"https://cpts.example.fr/rdv|{pushed['identifier'][0]['value']}"
    assert [(r.method, r.identifier) for r in fake_sas.received][1:] == [("PUT", key)]
    assert fake_sas.received[1].resource["status"] == "cancelled"
    messages = sas_client.get(f"/api/v1/snp/bookings/{booking_id}", headers=coordinator).json()["messages"]
    assert [(m["channel"], m["status"]) for m in messages if m["channel"] == "sas"] == [
        ("sas", "sent"),
        ("sas", "sent"),
    ]


def test_a_platform_outage_is_retried_and_the_update_waits_for_the_creation(sas_client, fake_sas, booked_by_regulator):
    booking_id, coordinator = booked_by_regulator
    fake_sas.fail_next = [503]
    _deliver(sas_client)
    assert fake_sas.received == []
    sas_client.post(f"/api/v1/snp/bookings/{booking_id}/cancel", headers=coordinator)
    _deliver(sas_client)  # the creation is not due yet; the cancellation must not overtake it
    assert fake_sas.received == []
    _deliver(sas_client, times=2, later=timedelta(minutes=5))
    assert [r.method for r in fake_sas.received] == ["POST", "PUT"]


def test_a_refusal_is_recorded_and_shown_not_retried(sas_client, fake_sas, booked_by_regulator, db):
    booking_id, coordinator = booked_by_regulator
    fake_sas.fail_next = [422]
    _deliver(sas_client)
    _deliver(sas_client, times=3, later=timedelta(hours=2))
    assert fake_sas.received == []
    message = sas_client.get(f"/api/v1/snp/bookings/{booking_id}", headers=coordinator).json()["messages"]
    sas = [m for m in message if m["channel"] == "sas"][0]
    assert sas["status"] == "failed" and sas["attempts"] == 1
    assert sas["last_error"] == "sas 422 business-rule"  # the platform's code, never its text


def test_a_booking_by_the_cpts_is_not_pushed(sas_client, fake_sas, make_account, db):
    coordinator = make_account("coordinator", ["grand-arras"])
    doctor = sas_client.post(
        "/api/v1/doctors",
        headers=coordinator,
        json={
            "cpts": "grand-arras",
            "rpps": demo_rpps(961),
            "family_name": "Roux",
            "given_name": "Paul",
            "email": "paul.roux@example.fr",
            "locations": [{"address": "4 rue Pasteur", "postcode": "62000", "city": "Arras"}],
        },
    ).json()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    slot = sas_client.post(
        "/api/v1/snp/slots",
        headers=coordinator,
        json={
            "doctor_id": doctor["id"],
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=20)).isoformat(),
        },
    ).json()
    sas_client.post(
        f"/api/v1/snp/slots/{slot['id']}/bookings",
        headers=coordinator,
        json={"family_name": "A", "given_name": "B", "phone": "0612345678", "reason": "Fièvre"},
    )
    _deliver(sas_client)
    assert fake_sas.received == []
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sas")).all() == []


def test_outcome_after_the_time_is_pushed(sas_client, fake_sas, booked_by_regulator, db):
    from app.snp.models import Booking, Slot

    booking_id, coordinator = booked_by_regulator
    slot_id = db.get(Booking, booking_id).slot_id
    past = datetime.now(UTC) - timedelta(hours=1)
    db.execute(update(Slot).where(Slot.id == slot_id).values(start_at=past, end_at=past + timedelta(minutes=20)))
    db.commit()
    sas_client.post(f"/api/v1/snp/bookings/{booking_id}/outcome", json={"outcome": "noshow"}, headers=coordinator)
    _deliver(sas_client, times=2)
    assert [(r.method, r.resource["status"]) for r in fake_sas.received] == [("POST", "booked"), ("PUT", "noshow")]


# ---- Mutual TLS (the guide's security page: IGC-Santé certificates both ways, TLS >= 1.2) ----


def _sas_messages(client, booking_id, coordinator) -> list[dict]:
    messages = client.get(f"/api/v1/snp/bookings/{booking_id}", headers=coordinator).json()["messages"]
    return [m for m in messages if m["channel"] == "sas"]


def test_without_a_client_certificate_the_platform_refuses_and_the_push_is_retried(
    sas_client, fake_sas, booked_by_regulator, pki
):
    booking_id, coordinator = booked_by_regulator
    no_certificate = ssl.create_default_context(cafile=str(pki.platform_ca))  # trusts the platform, shows nothing
    settings = sas_client.app.state.settings
    worker = OutboxWorker(
        settings,
        sas_client.app.state.write_sessions,
        senders={"sas": SasAppointmentSender(fake_sas.url, no_certificate)},
    )
    worker.run_once()
    assert fake_sas.received == [] and fake_sas.refused_handshakes == 1
    [push] = _sas_messages(sas_client, booking_id, coordinator)
    assert (push["status"], push["attempts"]) == ("pending", 1)  # failed, to be tried again
    assert push["last_error"].startswith("tls ")
    _deliver(sas_client, later=timedelta(minutes=5))  # the worker with the certificate
    assert [r.method for r in fake_sas.received] == ["POST"]
    [push] = _sas_messages(sas_client, booking_id, coordinator)
    assert (push["status"], push["attempts"]) == ("sent", 2)


def test_an_expired_certificate_is_refused_by_the_platform(sas_client, fake_sas, booked_by_regulator, pki):
    booking_id, coordinator = booked_by_regulator
    _deliver(sas_client, sas_client_certfile=pki.expired)
    assert fake_sas.received == [] and fake_sas.refused_handshakes == 1
    assert _sas_messages(sas_client, booking_id, coordinator)[0]["status"] == "pending"


def test_a_certificate_of_a_ca_the_platform_does_not_trust_is_refused(sas_client, fake_sas, booked_by_regulator, pki):
    booking_id, coordinator = booked_by_regulator
    _deliver(sas_client, sas_client_certfile=pki.stranger)
    assert fake_sas.received == [] and fake_sas.refused_handshakes == 1
    assert _sas_messages(sas_client, booking_id, coordinator)[0]["status"] == "pending"


def test_a_platform_whose_certificate_we_do_not_trust_gets_nothing(sas_client, fake_sas, booked_by_regulator, pki):
    booking_id, coordinator = booked_by_regulator
    _deliver(sas_client, sas_ca_file=pki.client_ca)  # the wrong CA bundle: the platform is not recognised
    assert fake_sas.received == []
    [push] = _sas_messages(sas_client, booking_id, coordinator)
    assert push["status"] == "pending" and "CERTIFICATE_VERIFY_FAILED" in push["last_error"]


def test_a_platform_certificate_for_another_host_name_is_not_trusted(sas_client, booked_by_regulator, pki):
    booking_id, coordinator = booked_by_regulator
    with FakeSas(pki, server_certificate=pki.other_host_server) as impostor:
        _deliver(sas_client, sas_base_url=impostor.url)
        assert impostor.received == []
    [push] = _sas_messages(sas_client, booking_id, coordinator)
    assert push["status"] == "pending" and "CERTIFICATE_VERIFY_FAILED" in push["last_error"]


def test_a_pkcs12_certificate_with_its_passphrase_file_is_used(sas_client, fake_sas, booked_by_regulator, pki):
    _deliver(sas_client, sas_client_certfile=pki.client_p12, sas_client_key_password_file=pki.client_p12_password)
    assert [r.client_subject for r in fake_sas.received] == [CLIENT_CN]


def test_the_platform_is_reached_with_tls_1_2_at_least_and_its_host_name_checked(pki):
    context, expires = sas_tls_context(Settings(**pki.settings("https://127.0.0.1:1")))
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert expires > datetime.now(UTC)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"sas_client_certfile": None}, "ORIENTATION_SAS_CLIENT_CERTFILE manque"),
        ({"sas_ca_file": None}, "ORIENTATION_SAS_CA_FILE manque"),
        (
            {"appointment_identifier_system": PLACEHOLDER_APPOINTMENT_SYSTEM},
            "ORIENTATION_APPOINTMENT_IDENTIFIER_SYSTEM",
        ),
        ({"sas_base_url": "http://127.0.0.1:1"}, "https://"),
        ({"sas_client_certfile": "EXPIRED"}, "a expiré le"),
        ({"sas_client_certfile": "P12"}, "illisibles"),  # a PKCS#12 file without its passphrase
    ],
)
def test_the_worker_and_the_server_refuse_to_start_with_a_push_that_cannot_work(
    database_url, engine, pki, changes, said
):
    values = pki.settings("https://127.0.0.1:1") | changes
    values = {k: {"EXPIRED": pki.expired, "P12": pki.client_p12}.get(str(v), v) for k, v in values.items()}
    env = {f"ORIENTATION_{k.upper()}": str(v) for k, v in values.items() if v is not None}
    for command in (["worker", "--once"], ["serve", "--no-migrate", "--port", "1"]):
        done = subprocess.run(
            [ORIENTATION, *command],
            env=command_env(ORIENTATION_DATABASE_URL=database_url, **env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, (command, done.stderr)
        assert "envoi des rendez-vous au SAS mal configuré" in done.stderr and said in done.stderr


def test_a_push_that_can_work_lets_the_worker_start(database_url, engine, pki):
    env = {f"ORIENTATION_{k.upper()}": str(v) for k, v in pki.settings("https://127.0.0.1:1").items()}
    done = subprocess.run(
        [ORIENTATION, "worker", "--once"],
        env=command_env(ORIENTATION_DATABASE_URL=database_url, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr

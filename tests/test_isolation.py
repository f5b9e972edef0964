"""Every endpoint × every role × own/other CPTS: who gets what.

`OK` is any 2xx. A caller asking for an object of another CPTS gets 404 (it must not learn
that the object exists); a role that may not use an endpoint at all gets 403; nobody
signed in gets 401. The last test fails when an endpoint is added without a row here."""

import itertools
import re
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from stdnum import luhn

from app.demo_people import demo_rpps
from tests.helpers.scoped_queries import scoped_reads_guard

OK = "2xx"
ROLES = ["anonymous", "admin", "coordinator", "professional", "doctor", "regulator", "secretariat", "cpam"]
# Endpoints anybody may call: the patient-facing ones and the service's own.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),  # readiness, for load balancers (test_operator_readiness)
    ("GET", "/api/v1/communes"),
    ("GET", "/api/v1/residency"),
    ("GET", "/api/v1/territories"),
    ("GET", "/api/v1/territories/{slug}"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/medecins/confirmer/{token}"),
    ("POST", "/medecins/confirmer/{token}"),
    ("GET", "/medecins/propositions/{token}"),  # the offer link is the doctor's proof (test_offers)
    ("POST", "/medecins/propositions/{token}"),
    ("POST", "/api/v1/requests"),
    ("GET", "/suivi/{token}"),
    ("POST", "/suivi/{token}/{choice}"),  # the follow-up link is the proof (test_privacy_rights)
    ("POST", "/suivi/{token}/confirmer/{step}"),  # the follow-up link is the proof (test_follow_up_outcomes)
    ("GET", "/suivi/{token}/avis"),  # the follow-up link is the proof (test_follow_up_outcomes)
    ("POST", "/suivi/{token}/avis"),  # the follow-up link is the proof (test_follow_up_outcomes)
    ("GET", "/confidentialite"),
    ("GET", "/"),
    ("POST", "/"),
    ("GET", "/espace/connexion"),
    ("POST", "/espace/connexion"),
    # Pro Santé Connect's way in and back (test_psc_sign_in): its signed cookie and the provider decide.
    ("GET", "/espace/connexion/psc"),
    ("GET", "/espace/connexion/psc/retour"),
    # The e-mailed links are the proof (test_account_links); "Mot de passe oublié" answers
    # the same for any address.
    ("GET", "/comptes/invitation/{token}"),
    ("POST", "/comptes/invitation/{token}"),
    ("GET", "/comptes/reinitialisation/{token}"),
    ("POST", "/comptes/reinitialisation/{token}"),
    ("GET", "/espace/mot-de-passe-oublie"),
    ("POST", "/espace/mot-de-passe-oublie"),
    # The volunteer sign-up page: a doctor without an account; rate-limited, checked, and decided
    # by the coordination (test_territory).
    ("GET", "/medecins/devenir-volontaire"),
    ("POST", "/medecins/devenir-volontaire"),
    ("GET", "/medecins/devenir-volontaire/{token}"),
    ("POST", "/medecins/devenir-volontaire/{token}"),
}
# The SAS platform's interfaces: no account, the client certificate decides (test_fhir_transport).
PLATFORM = {
    ("GET", "/fhir/metadata"),
    ("GET", "/fhir/Slot"),
    ("GET", "/fhir/Slot/{}"),
    ("GET", "/fhir/Schedule/{}"),
    ("GET", "/fhir/Practitioner/{}"),
    ("GET", "/fhir/PractitionerRole/{}"),
    ("GET", "/fhir/HealthcareService/{}"),
    ("GET", "/fhir/Organization/{}"),
    ("POST", "/fhir/Practitioner"),
    ("PUT", "/fhir/Practitioner"),
}

# The SMS provider's delivery receipts: no account, the provider's signature or token decides,
# and only for the provider configured (tests/test_sms_providers.py).
PROVIDERS = {("POST", "/webhooks/sms/{provider}")}

_emails = itertools.count(1)


def _doctor_body(cpts: str, _world: dict) -> dict:
    n = next(_emails)
    city, postcode = ("Arras", "62000") if cpts == "grand-arras" else ("Rousset", "13790")
    return {
        "cpts": cpts,
        "rpps": demo_rpps(700 + n),
        "family_name": f"Nouveau{n}",
        "given_name": "Léa",
        "email": f"nouveau{n}@example.fr",
        "locations": [{"address": "1 rue Neuve", "postcode": postcode, "city": city}],
    }


def _page_doctor_body(_cpts: str, _world: dict) -> dict:
    """The workspace's form registers in the caller's current CPTS, whatever the target."""
    n = next(_emails)
    return {
        "rpps": demo_rpps(750 + n),
        "family_name": f"Formulaire{n}",
        "given_name": "Léa",
        "email": f"formulaire{n}@example.fr",
        "address": "1 rue Neuve",
        "postcode": "62000",
        "city": "Arras",
    }


def _user_body(cpts: str, _world: dict) -> dict:
    n = next(_emails)
    return {
        "email": f"new{n}@example.fr",
        "display_name": "Nouveau",
        "role": "professional",
        "password": "correct horse battery",
        "cpts": [cpts],
    }


_new_communes = iter(["62119", "62310", "62520", "62232", "62498", "62360"] * 10)


def _territory_body(_: str, _world: dict) -> dict:
    n = next(_emails)
    finess = f"6200{n:04d}"
    return {
        "slug": f"nouvelle-cpts-{n}",
        "name": "Nouvelle CPTS",
        "finess": finess + luhn.calc_check_digit(finess),
        "phone": "0321000000",
        "email": "n@example.fr",
        "communes": [next(_new_communes)],
    }


# Clear of the world's slots (hours 3 to 7, and a day later in the other CPTS), whichever role runs first.
_slot_hours = itertools.count(48)


def _slot_body(cpts: str, world: dict) -> dict:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=next(_slot_hours))
    return {
        "doctor_id": world["doctors"][cpts],
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=20)).isoformat(),
    }


def _pattern_body(cpts: str, world: dict) -> dict:
    from datetime import date, timedelta

    return {
        "doctor_id": world["doctors"][cpts],
        "weekdays": [1],
        "start_time": "08:00",
        "end_time": "09:00",
        "slot_minutes": 30,
        "first_date": (date.today() + timedelta(days=60)).isoformat(),
        "weeks": 1,
    }


def _centre_body(cpts: str, _world: dict) -> dict:
    city, postcode = ("Arras", "62000") if cpts == "grand-arras" else ("Rousset", "13790")
    return {"cpts": cpts, "name": "CSNP", "address": "1 place de la Gare", "postcode": postcode, "city": city}


PATIENT = {"family_name": "Durand", "given_name": "Marc", "phone": "0611223344", "reason": "Entorse"}


@dataclass
class Row:
    method: str
    path: str  # {doctor}, {user}, {token}, {cpts} are filled for the own or the other CPTS
    expect: dict[str, tuple[str, str]]  # role → (own target, other target)
    body: object = None  # a dict, or a function of the CPTS slug
    upload: bool = False


def same(value: str) -> tuple[str, str]:
    return (value, value)


EVERYONE = {role: same(OK) for role in ROLES if role != "anonymous"}
# The secretariat (FICHE 6's phone line) and the CPAM (FICHE 2): refused unless a row says otherwise.
NEW_ROLES_REFUSED = {"secretariat": same("403"), "cpam": same("403")}
MANAGERS_ONLY = {
    "admin": same(OK),
    "coordinator": same(OK),
    "professional": same("403"),
    "doctor": same("403"),
    "regulator": same("403"),
    **NEW_ROLES_REFUSED,
}
ADMIN_ONLY = {"admin": same(OK), **{r: same("403") for r in ROLES if r not in ("anonymous", "admin")}}
# An object of a CPTS: its coordinators see it, others get 404; doctors see only their own.
DOCTOR_RECORD = {
    "admin": same(OK),
    "coordinator": (OK, "404"),
    "doctor": (OK, "404"),
    "professional": same("403"),
    "regulator": same("403"),
    **NEW_ROLES_REFUSED,
}
DOCTOR_MANAGEMENT = {
    "admin": same(OK),
    "coordinator": (OK, "404"),
    "doctor": same("403"),
    "professional": same("403"),
    "regulator": same("403"),
    **NEW_ROLES_REFUSED,
}
# Publishing a slot: a doctor for itself; a coordinator for the doctors of its CPTS (another
# CPTS's doctor is unknown to it: 422 on the field).
PUBLISH = {
    "admin": same(OK),
    "coordinator": (OK, "422"),
    "doctor": (OK, "403"),
    "professional": same("403"),
    "regulator": same("403"),
    **NEW_ROLES_REFUSED,
}
# Médecin-traitant requests: the secretariat finds nothing there (404); the CPAM, like a
# professional, the requests it submitted.
NO_REQUESTS = {"secretariat": same("404")}
REQUEST_MANAGEMENT = {**DOCTOR_MANAGEMENT, **NO_REQUESTS}
# The secretariat books and cancels for the callers of its CPTS (another CPTS's slot: 404).
BOOKERS = {**DOCTOR_MANAGEMENT, "secretariat": (OK, "404")}
SLOT_READERS = {
    "admin": same(OK),
    "coordinator": same(OK),
    "doctor": same(OK),
    "professional": same("403"),
    "regulator": same("403"),
    **NEW_ROLES_REFUSED,
}
CREATE_IN_CPTS = {
    "admin": same(OK),
    "coordinator": (OK, "403"),
    "doctor": same("403"),
    "professional": same("403"),
    "regulator": same("403"),
    **NEW_ROLES_REFUSED,
}

TABLE = [
    # The operator's scraper, not an account, opens /metrics (METRICS_TOKEN, METRICS_ALLOWED_CLIENTS):
    # unset, it does not exist for anyone (test_operator_metrics).
    Row("GET", "/metrics", {role: same("404") for role in ROLES}),
    Row("GET", "/api/v1/auth/me", EVERYONE),
    Row("POST", "/api/v1/auth/logout", EVERYONE),
    Row("GET", "/api/v1/auth/tokens", EVERYONE),
    Row("POST", "/api/v1/auth/tokens", EVERYONE, body={"name": "script"}),
    # Tokens are personal: nobody, not even an admin, revokes somebody else's.
    Row("DELETE", "/api/v1/auth/tokens/{token}", {r: (OK, "404") for r in EVERYONE}),
    Row("GET", "/api/v1/users", MANAGERS_ONLY),
    Row("POST", "/api/v1/users", CREATE_IN_CPTS | {"coordinator": (OK, "403")}, body=_user_body),
    Row("POST", "/api/v1/users/{user}/deactivate", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/users/{user}/activate", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/territories", ADMIN_ONLY, body=_territory_body),
    Row("PATCH", "/api/v1/territories/{cpts}", ADMIN_ONLY, body={"phone": "03 21 00 00 02"}),
    Row("GET", "/api/v1/doctors", {**DOCTOR_RECORD, "coordinator": same(OK), "doctor": same(OK)}),
    Row("POST", "/api/v1/doctors", CREATE_IN_CPTS, body=_doctor_body),
    Row("GET", "/api/v1/doctors/{doctor}", DOCTOR_RECORD),
    Row("PATCH", "/api/v1/doctors/{doctor}", DOCTOR_RECORD, body={"phone": "03 21 00 00 03"}),
    Row(
        "PUT",
        "/api/v1/doctors/{doctor}/availability",
        DOCTOR_RECORD,
        body={"accepting_new_patients": True, "capacity_remaining": 50},
    ),
    Row("POST", "/api/v1/doctors/{doctor}/deactivate", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/doctors/{doctor}/reactivate", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/doctors/{doctor}/confirmation-link", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/doctors/{doctor}/take-place", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/doctors/{doctor}/reminder", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/doctors/reminders?cpts={cpts}", CREATE_IN_CPTS),
    Row("POST", "/api/v1/doctors/import?cpts={cpts}", CREATE_IN_CPTS, upload=True),
    Row("GET", "/api/v1/audit", MANAGERS_ONLY),
    Row("GET", "/api/v1/requests", {**MANAGERS_ONLY, **NO_REQUESTS, "professional": same(OK), "cpam": same(OK)}),
    # The own-CPTS request was submitted by the professional: it sees that one only (the CPAM:
    # neither, it submitted none of them).
    Row(
        "GET",
        "/api/v1/requests/{request}",
        {**REQUEST_MANAGEMENT, "professional": (OK, "404"), "cpam": same("404")},
    ),
    Row("GET", "/api/v1/requests/{request}/suggestions", REQUEST_MANAGEMENT),
    Row("POST", "/api/v1/requests/{request}/notes", REQUEST_MANAGEMENT, body={"text": "Rappeler lundi"}),
    Row(
        "POST",
        "/api/v1/requests/{request}/messages/preview",
        REQUEST_MANAGEMENT,
        body=lambda slug, world: {"doctor_ids": [world["doctors"][slug]]},
    ),
    Row(
        "POST",
        "/api/v1/requests/{request}/send-list",
        REQUEST_MANAGEMENT,
        body=lambda slug, world: {"doctor_ids": [world["doctors"][slug]]},
    ),
    Row(
        "POST",
        "/api/v1/requests/{request}/transitions",
        REQUEST_MANAGEMENT,
        body={"to": "closed", "reason": "withdrew"},
    ),
    Row("GET", "/api/v1/requests/export?cpts={cpts}", CREATE_IN_CPTS),
    Row("GET", "/api/v1/territories/{cpts}/indicators", CREATE_IN_CPTS),
    Row("POST", "/api/v1/sources", CREATE_IN_CPTS, body=lambda slug, world: {"cpts": slug, "name": "Pharmacie"}),
    Row("GET", "/api/v1/sources", MANAGERS_ONLY),
    Row("GET", "/api/v1/sources/{source}/qr.{kind}", DOCTOR_MANAGEMENT),
    Row("GET", "/api/v1/sources/{source}/flyer", DOCTOR_MANAGEMENT),
    Row("POST", "/api/v1/snp/slots", PUBLISH, body=_slot_body),
    Row("GET", "/api/v1/snp/slots", SLOT_READERS),
    Row("GET", "/api/v1/snp/slots/{slot}", DOCTOR_RECORD),
    Row("POST", "/api/v1/snp/patterns", PUBLISH, body=_pattern_body),
    Row("GET", "/api/v1/snp/patterns", SLOT_READERS),
    Row("PUT", "/api/v1/snp/patterns/{pattern}", DOCTOR_RECORD, body=_pattern_body),
    Row("POST", "/api/v1/snp/centres", CREATE_IN_CPTS, body=_centre_body),
    Row("GET", "/api/v1/snp/centres", MANAGERS_ONLY),
    Row(
        "GET",
        "/api/v1/snp/search?cpts={cpts}",
        {**MANAGERS_ONLY, "coordinator": (OK, "422"), "secretariat": (OK, "422")},
    ),
    # A regulator books only through the SAS page (test_snp_sas_booking), never the API.
    Row("POST", "/api/v1/snp/slots/{slot}/bookings", BOOKERS, body=PATIENT),
    Row("GET", "/api/v1/snp/bookings/{booking}", DOCTOR_RECORD),
    Row("POST", "/api/v1/snp/bookings/{past_booking}/outcome", DOCTOR_RECORD, body={"outcome": "fulfilled"}),
    Row("POST", "/api/v1/snp/bookings/{booking}/cancel", {**DOCTOR_RECORD, "secretariat": (OK, "404")}),
    # A person's rights: the search is scoped to the caller's CPTS (test_privacy_rights).
    Row("POST", "/api/v1/privacy/search", MANAGERS_ONLY, body={"phone": "0612345678"}),
    Row("POST", "/api/v1/privacy/export", MANAGERS_ONLY, body={"phone": "0612345678"}),
    Row("PATCH", "/api/v1/privacy/requests/{request}", DOCTOR_MANAGEMENT, body={"address": "2 rue Neuve"}),
    # Nobody has this phone: erasing it erases nothing the other rows use.
    Row("POST", "/api/v1/privacy/erase", MANAGERS_ONLY, body={"phone": "0699999999"}),
    # Last: they remove what earlier rows use.
    Row("DELETE", "/api/v1/snp/slots/{spare_slot}", DOCTOR_RECORD),
    Row("DELETE", "/api/v1/snp/patterns/{spare_pattern}", DOCTOR_RECORD),
]

# The workspace's pages (/espace). Nobody signed in is sent to the sign-in page ("signin");
# an action that is done (or refused for a reason shown on the page) redirects elsewhere: OK.
SIGNIN = "signin"
ANYONE_SIGNED_IN = {"anonymous": same(SIGNIN), **EVERYONE}
PAGE_MANAGERS = {"anonymous": same(SIGNIN), **MANAGERS_ONLY}
PAGE_OBJECT = {"anonymous": same(SIGNIN), **DOCTOR_MANAGEMENT}
ONLY = lambda *roles: {"anonymous": same(SIGNIN), **{r: same(OK if r in roles else "403") for r in EVERYONE}}  # noqa: E731
PAGE_SUBMITTERS = {**PAGE_MANAGERS, **NO_REQUESTS, "professional": same(OK), "cpam": same(OK)}
PAGE_REQUESTS = {**PAGE_MANAGERS, **NO_REQUESTS}
PAGE_REQUEST = {**PAGE_OBJECT, **NO_REQUESTS}
# Every role belongs to the Grand Arras only; an admin may work in any CPTS.
SWITCH = {"anonymous": same(SIGNIN), **{r: (OK, "403") for r in EVERYONE}, "admin": same(OK)}
NEW_PATIENT = {
    "family_name": "Patient",
    "given_name": "Nouveau",
    "birth_date": "1948-05-05",
    "phone": "0612345679",
    "postcode": "62000",
    "city": "Arras",
    "no_doctor_reason": "moved_in",
    "patient_consent_attested": "yes",
}

BROWSER_ONLY = {"anonymous": same(SIGNIN), **{r: same("403") for r in EVERYONE}}


def _invite_body(_: str, _world: dict) -> dict:
    return {"email": f"invite{next(_emails)}@example.fr", "display_name": "Invitée", "role": "professional"}


def _territory_form(slug: str, world: dict) -> dict:
    body = _territory_body(slug, world)
    return {**{k: v for k, v in body.items() if k != "communes"}, "insee_codes": " ".join(body["communes"])}


TABLE += [
    Row("GET", "/espace", ANYONE_SIGNED_IN),
    Row("GET", "/espace/accueil", ANYONE_SIGNED_IN),
    Row("POST", "/espace/cpts", SWITCH, body=lambda slug, world: {"territory_id": world["territories"][slug]}),
    Row("GET", "/espace/demandes", PAGE_REQUESTS),
    Row("GET", "/espace/demandes/{request}", PAGE_REQUEST),
    Row("GET", "/espace/demandes/{request}/imprimer", PAGE_REQUEST),
    Row(
        "POST",
        "/espace/demandes/{request}/liste",
        PAGE_REQUEST,
        body=lambda slug, world: {"doctor_ids": [world["doctors"][slug]], "action": "preview"},
    ),
    Row(
        "POST",
        "/espace/demandes/{request}/attribution",
        PAGE_REQUEST,
        body=lambda slug, world: {"doctor_id": world["doctors"][slug]},
    ),
    Row(
        "POST",
        "/espace/demandes/{request}/propositions",
        PAGE_REQUEST,
        body=lambda slug, world: {"doctor_ids": [world["doctors"][slug]]},
    ),
    Row("POST", "/espace/demandes/{request}/cloture", PAGE_REQUEST, body={"reason": "withdrew"}),
    Row("POST", "/espace/propositions-automatiques", PAGE_REQUESTS, body={"mode": "off"}),
    Row("POST", "/espace/demandes/{request}/notes", PAGE_REQUEST, body={"text": "Rappeler lundi"}),
    Row("POST", "/espace/demandes/{request}/fusion", PAGE_REQUEST),
    Row("POST", "/espace/demandes/{request}/pas-un-doublon", PAGE_REQUEST),
    Row("POST", "/espace/demandes/{request}/suivi-du-patient", PAGE_REQUEST, body={"etape": "premier-rendez-vous"}),
    Row("GET", "/espace/medecins", PAGE_MANAGERS),
    Row("POST", "/espace/medecins/rappels", PAGE_MANAGERS),
    Row("GET", "/espace/medecins/import", PAGE_MANAGERS),
    Row("GET", "/espace/medecins/modele.csv", PAGE_MANAGERS),
    Row("GET", "/espace/medecins/imprimer", PAGE_MANAGERS),
    Row("GET", "/espace/medecins/nouveau", PAGE_MANAGERS),
    # The form registers in the caller's current CPTS: the admin's is the Provence here, where
    # an Arras practice is refused on the form (422); the coordinator's is the Grand Arras.
    Row("POST", "/espace/medecins/nouveau", PAGE_MANAGERS | {"admin": same("422")}, body=_page_doctor_body),
    # The page imports into the CPTS the caller works in, whatever the file says.
    Row("POST", "/espace/medecins/import", PAGE_MANAGERS, upload=True),
    Row("GET", "/espace/annuaire", PAGE_MANAGERS),
    # The page imports into the CPTS the caller works in; the file here is refused (a CSV), on the page.
    Row(
        "POST",
        "/espace/annuaire/import",
        PAGE_MANAGERS | {"admin": same("422"), "coordinator": same("422")},
        upload=True,
    ),
    Row("GET", "/espace/medecins/{doctor}", PAGE_OBJECT),
    Row(
        "POST",
        "/espace/medecins/{doctor}",
        PAGE_OBJECT,
        body={"accepting_new_patients": "yes", "capacity_remaining": "40"},
    ),
    Row("POST", "/espace/medecins/{doctor}/desactiver", PAGE_OBJECT),
    Row("POST", "/espace/medecins/{doctor}/reactiver", PAGE_OBJECT),
    Row("POST", "/espace/medecins/{doctor}/rappel", PAGE_OBJECT),
    Row("POST", "/espace/medecins/{doctor}/psc", PAGE_OBJECT, body={"allowed": "yes"}),
    Row("GET", "/espace/mon-cabinet", ONLY("doctor")),
    Row(
        "POST",
        "/espace/mon-cabinet",
        ONLY("doctor"),
        body={"accepting_new_patients": "yes", "capacity_remaining": "30"},
    ),
    Row("GET", "/espace/mes-demandes", {**ONLY("professional", "cpam"), **NO_REQUESTS}),
    Row("GET", "/espace/mes-demandes/nouvelle", PAGE_SUBMITTERS),
    Row("POST", "/espace/mes-demandes/nouvelle", PAGE_SUBMITTERS, body=NEW_PATIENT),
    Row("GET", "/espace/sources", PAGE_MANAGERS),
    Row("POST", "/espace/sources", PAGE_MANAGERS, body={"name": "Mairie", "kind": "town_hall"}),
    Row("GET", "/espace/sources/{source}", PAGE_OBJECT),
    Row("POST", "/espace/sources/{source}", PAGE_OBJECT, body={"name": "Mairie", "kind": "town_hall"}),
    # Once retired, retiring again is refused with the reason on the page (a redirect: OK).
    Row("POST", "/espace/sources/{source}/retirer", PAGE_OBJECT),
    Row("GET", "/espace/indicateurs", PAGE_MANAGERS),
    Row("GET", "/espace/indicateurs.csv", PAGE_MANAGERS),
    Row("GET", "/espace/indicateurs.xlsx", PAGE_MANAGERS),
    Row("GET", "/espace/journal", PAGE_MANAGERS),
    Row("GET", "/espace/personnes", PAGE_MANAGERS),
    Row("POST", "/espace/personnes", PAGE_MANAGERS, body={"phone": "0612345678"}),
    Row("POST", "/espace/personnes/export", PAGE_MANAGERS, body={"phone": "0612345678", "format": "json"}),
    Row("POST", "/espace/personnes/effacer", PAGE_MANAGERS, body={"phone": "0699999999", "confirm": "yes"}),
    Row("POST", "/espace/personnes/demandes/{request}/rectifier", PAGE_OBJECT, body={"address": "3 rue Neuve"}),
    # Signing out sends everyone to the sign-in page.
    Row("GET", "/espace/soins-non-programmes", {"anonymous": same(SIGNIN), **SLOT_READERS, "secretariat": same(OK)}),
    Row("GET", "/espace/soins-non-programmes/recherche", {**PAGE_MANAGERS, "secretariat": same(OK)}),
    # Publishing for another CPTS's doctor is refused with the reason shown on the board (a redirect).
    Row(
        "POST",
        "/espace/soins-non-programmes/creneaux",
        {"anonymous": same(SIGNIN), **SLOT_READERS},
        body=lambda slug, world: {
            "owner": f"d{world['doctors'][slug]}",
            "day": "2031-01-07",
            "start": "10:00",
            "end": "10:20",
        },
    ),
    Row(
        "POST",
        "/espace/soins-non-programmes/recurrences",
        {"anonymous": same(SIGNIN), **SLOT_READERS},
        body=lambda slug, world: {
            "owner": f"d{world['doctors'][slug]}",
            "weekdays": "2",
            "start": "10:00",
            "end": "11:00",
            "first_date": "2031-01-07",
            "weeks": "1",
        },
    ),
    Row("POST", "/espace/soins-non-programmes/creneaux/{slot}/supprimer", {"anonymous": same(SIGNIN), **DOCTOR_RECORD}),
    Row(
        "POST",
        "/espace/soins-non-programmes/recurrences/{pattern}/supprimer",
        {"anonymous": same(SIGNIN), **DOCTOR_RECORD},
    ),
    # A regulator books only arriving from the SAS (origin=sas: test_snp_pages), never from here.
    Row(
        "GET",
        "/espace/soins-non-programmes/creneaux/{page_slot}/reserver",
        {"anonymous": same(SIGNIN), **BOOKERS},
    ),
    Row(
        "POST",
        "/espace/soins-non-programmes/creneaux/{page_slot}/reserver",
        {"anonymous": same(SIGNIN), **BOOKERS},
        body={"family_name": "Durand", "given_name": "Marc", "phone": "0611223344", "reason": "Entorse"},
    ),
    Row(
        "POST",
        "/espace/soins-non-programmes/rendez-vous/{booking}/annuler",
        {"anonymous": same(SIGNIN), **DOCTOR_RECORD, "secretariat": (OK, "404")},
    ),
    Row(
        "POST",
        "/espace/soins-non-programmes/rendez-vous/{past_booking}/resultat",
        {"anonymous": same(SIGNIN), **DOCTOR_RECORD},
        body={"resultat": "noshow"},
    ),
    # A passage without a booking: another CPTS's doctor is refused on the board (a redirect); a
    # doctor records its own whatever the form names.
    Row(
        "POST",
        "/espace/soins-non-programmes/passages",
        {"anonymous": same(SIGNIN), **SLOT_READERS},
        body=lambda slug, world: {"owner": f"d{world['doctors'][slug]}", "age_band": "70+", "has_doctor": "no"},
    ),
    # The phone line: the coordination and the secretariat of the CPTS they work in.
    Row("GET", "/espace/appels", ONLY("coordinator", "secretariat")),
    Row(
        "POST",
        "/espace/appels",
        ONLY("coordinator", "secretariat"),
        body={"caller": "patient", "reason": "doctor", "outcome": "booked"},
    ),
    # Accounts: a coordinator manages those of its CPTS (another's are 404); the page invites
    # into the CPTS the caller works in, whatever the target.
    Row("GET", "/espace/comptes", PAGE_MANAGERS),
    Row("POST", "/espace/comptes", PAGE_MANAGERS, body=_invite_body),
    Row("GET", "/espace/comptes/{user}", PAGE_OBJECT),
    Row("POST", "/espace/comptes/{user}", PAGE_OBJECT, body={"display_name": "Renommé", "role": "professional"}),
    Row("POST", "/espace/comptes/{user}/invitation", PAGE_OBJECT),  # it has a password: refused on the page
    Row("POST", "/espace/comptes/{user}/second-facteur", PAGE_OBJECT),
    Row("POST", "/espace/comptes/{user}/desactiver", PAGE_OBJECT),
    Row("POST", "/espace/comptes/{user}/reactiver", PAGE_OBJECT),
    # The territory page is the caller's current CPTS's; letters and sign-ups are objects of a CPTS.
    Row("GET", "/espace/territoire", PAGE_MANAGERS),
    Row("GET", "/espace/territoire?voir=non-volontaires&commune=62041", PAGE_MANAGERS),
    # An RPPS of another CPTS's directory is refused on the page (a redirect with the reason).
    Row(
        "POST",
        "/espace/territoire/invitations",
        PAGE_MANAGERS,
        body=lambda slug, world: {"rpps": [world["practitioners"][slug]]},
    ),
    Row("GET", "/espace/territoire/lettres?ids={invitation}", PAGE_OBJECT),
    Row("GET", "/espace/territoire/candidatures", PAGE_MANAGERS),
    # Once decided, a second decision is refused on the page (a redirect: OK).
    Row("POST", "/espace/territoire/candidatures/{application}/accepter", PAGE_OBJECT),
    Row("POST", "/espace/territoire/candidatures/{application}/refuser", PAGE_OBJECT),
    Row("GET", "/espace/territoire/campagne", PAGE_MANAGERS),
    Row("GET", "/espace/cpts-du-deploiement", ONLY("admin")),
    Row("POST", "/espace/cpts-du-deploiement", ONLY("admin"), body=_territory_form),
    # One's own account; another's session or token is 404, for everybody.
    Row("GET", "/espace/mon-compte", ANYONE_SIGNED_IN),
    Row("POST", "/espace/mon-compte/mot-de-passe", ANYONE_SIGNED_IN, body={"current_password": "faux"}),
    Row("POST", "/espace/mon-compte/jetons", ANYONE_SIGNED_IN, body={"name": "script"}),
    Row(
        "POST",
        "/espace/mon-compte/sessions/{web_session}/fermer",
        {"anonymous": same(SIGNIN), **{r: (OK, "404") for r in EVERYONE}},
    ),
    Row(
        "POST",
        "/espace/mon-compte/jetons/{token}/revoquer",
        {"anonymous": same(SIGNIN), **{r: (OK, "404") for r in EVERYONE}},
    ),
    # The second factor is given from a browser's session, never with a token (these callers' own).
    Row("GET", "/espace/second-facteur", BROWSER_ONLY),
    Row("POST", "/espace/second-facteur", BROWSER_ONLY, body={"code": "123456"}),
    Row("GET", "/espace/second-facteur/activation", BROWSER_ONLY),
    Row("POST", "/espace/second-facteur/activation", BROWSER_ONLY, body={"code": "123456"}),
    Row("POST", "/espace/deconnexion", {"anonymous": same(SIGNIN), **{r: same(SIGNIN) for r in EVERYONE}}),
]


@pytest.fixture
def world(client, db, make_account, demo_territories):
    """Two CPTS; in each a doctor, a spare user, and in Grand Arras one account per role."""
    from app.accounts.principal import operator
    from app.doctors.schemas import Availability, DoctorCreate, LocationIn
    from app.doctors.service import create_doctor

    doctors = {}
    for slug, (city, postcode), n in (
        ("grand-arras", ("Arras", "62000"), 1),
        ("provence-sante", ("Rousset", "13790"), 2),
    ):
        doctors[slug] = create_doctor(
            db,
            client.app.state.geocoding,
            operator(),
            DoctorCreate(
                cpts=slug,
                rpps=demo_rpps(n),
                family_name=f"Médecin{n}",
                given_name="Test",
                email=f"d{n}@example.fr",
                locations=[LocationIn(address="1 rue Pasteur", postcode=postcode, city=city)],
                availability=Availability(accepting_new_patients=True, capacity_remaining=100),
            ),
        ).id
    db.commit()  # services leave committing to the caller
    headers = {
        "anonymous": {},
        "admin": make_account("admin"),
        "coordinator": make_account("coordinator", ["grand-arras"]),
        "professional": make_account("professional", ["grand-arras"]),
        "doctor": make_account("doctor", ["grand-arras"], doctor_rpps=demo_rpps(1)),
        "regulator": make_account("regulator", ["grand-arras"]),
        "secretariat": make_account("secretariat", ["grand-arras"]),
        "cpam": make_account("cpam", ["grand-arras"]),
    }
    spare_users = {
        slug: client.get("/api/v1/auth/me", headers=make_account("professional", [slug])).json()["id"]
        for slug in doctors
    }
    from app.accounts.models import Role
    from app.accounts.principal import Principal
    from app.requests.schemas import RequestCreate
    from app.requests.service import submit_request
    from app.territories.models import Territory

    requests = {}
    for slug, (city, postcode) in (("grand-arras", ("Arras", "62000")), ("provence-sante", ("Rousset", "13790"))):
        submitter = None
        if slug == "grand-arras":  # submitted by the professional of the table
            me = client.get("/api/v1/auth/me", headers=headers["professional"]).json()
            territory_id = db.scalars(select(Territory.id).where(Territory.slug == slug)).one()
            submitter = Principal(me["id"], me["email"], Role.PROFESSIONAL, frozenset({territory_id}), None, None)
        requests[slug] = submit_request(
            db,
            client.app.state.geocoding,
            submitter,
            RequestCreate(
                family_name="Patient",
                given_name=slug,
                birth_date="1950-01-01",
                phone="0612345678",
                postcode=postcode,
                city=city,
                no_doctor_reason="moved_in",
                consent=True,
                submitted_by="professional" if submitter else "patient",
                patient_consent_attested=True,
            ),
            "http://test",
        )[0].id
        db.commit()
    from app.requests.models import Source

    sources = {}
    for slug in ("grand-arras", "provence-sante"):
        territory_id = db.scalars(select(Territory.id).where(Territory.slug == slug)).one()
        source = Source(territory_id=territory_id, tag=f"source-{slug}", name="Mairie", kind="town_hall")
        db.add(source)
        db.commit()
        sources[slug] = source.id
    snp = _snp_world(db, doctors, client.app.state.settings)
    recruitment = _recruitment_world(db)
    other_token = make_account("professional", ["provence-sante"])
    other_token_id = client.get("/api/v1/auth/tokens", headers=other_token).json()[0]["id"]
    territories = dict(db.execute(select(Territory.slug, Territory.id)).all())
    # A browser session of each role's account (to close from its own page), and one of another CPTS's.
    from app.accounts.models import User
    from app.accounts.service import open_session

    web_sessions = {}
    for role, role_headers in headers.items():
        if role != "anonymous":
            user = db.get(User, client.get("/api/v1/auth/me", headers=role_headers).json()["id"])
            web_sessions[role] = open_session(db, client.app.state.settings, user)[1].id
    spare = db.get(User, spare_users["provence-sante"])
    web_sessions["other"] = open_session(db, client.app.state.settings, spare)[1].id
    db.commit()
    return {
        "web_sessions": web_sessions,
        "headers": headers,
        "doctors": doctors,
        "users": spare_users,
        "other_token": other_token_id,
        "requests": requests,
        "sources": sources,
        "territories": territories,
        **snp,
        **recruitment,
    }


def _recruitment_world(db) -> dict:
    """In each CPTS: a GP of the directory, an invitation sent to it (a letter), its sign-up."""
    from app.recruitment.models import DoctorInvitation, VolunteerApplication
    from tests.factories import directory_practitioner

    world: dict = {"practitioners": {}, "invitation": {}, "application": {}}
    for n, (slug, city, postcode, insee) in enumerate(
        (("grand-arras", "Arras", "62000", "62041"), ("provence-sante", "Rousset", "13790", "13087")), start=1
    ):
        entry = directory_practitioner(
            db, slug, 900 + n, practices=[{"city": city, "postcode": postcode, "insee_code": insee}]
        )
        invitation = DoctorInvitation(territory_id=entry.territory_id, rpps=entry.rpps, practitioner_id=entry.id)
        invitation.channel = "letter"
        db.add(invitation)
        db.flush()
        application = VolunteerApplication(
            territory_id=entry.territory_id,
            invitation_id=invitation.id,
            rpps=entry.rpps,
            in_directory=True,
            civility="DR",
            family_name=entry.family_name,
            given_name=entry.given_name,
            email=f"candidat{n}@example.fr",
            address="1 rue Pasteur",
            postcode=postcode,
            city=city,
            insee_code=insee,
            availability={"accepting_new_patients": True, "capacity_remaining": 10},
        )
        db.add(application)
        db.flush()
        world["practitioners"][slug] = entry.rpps
        world["invitation"][slug] = invitation.id
        world["application"][slug] = application.id
    db.commit()
    return world


def _snp_world(db, doctors: dict, settings) -> dict:
    """In each CPTS: a free slot, a spare one, a pattern, a booking to come and one past."""
    from datetime import UTC, date, datetime, timedelta

    from sqlalchemy import update

    from app.accounts.principal import operator
    from app.snp import service
    from app.snp.models import Slot
    from app.snp.schemas import BookingCreate, PatternCreate, SlotCreate

    world: dict = {
        "slot": {},
        "spare_slot": {},
        "page_slot": {},
        "pattern": {},
        "spare_pattern": {},
        "booking": {},
        "past_booking": {},
    }
    for n, (slug, doctor_id) in enumerate(doctors.items()):

        def slot(hours: int, n: int = n, doctor_id: int = doctor_id) -> int:
            start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours, days=n)
            return service.create_slot(
                db, operator(), SlotCreate(doctor_id=doctor_id, start=start, end=start + timedelta(minutes=20))
            ).id

        world["slot"][slug], world["spare_slot"][slug], world["page_slot"][slug] = slot(3), slot(4), slot(7)
        booked, past = slot(5), slot(6)
        for key, slot_id in (("booking", booked), ("past_booking", past)):
            world[key][slug] = service.book(db, settings, operator(), slot_id, BookingCreate(**PATIENT), "cpts").id
        db.execute(
            update(Slot)
            .where(Slot.id == past)
            .values(start_at=datetime.now(UTC) - timedelta(hours=2), end_at=datetime.now(UTC) - timedelta(hours=1))
        )
        for key, weekday in (("pattern", 3), ("spare_pattern", 4)):
            world[key][slug] = service.create_pattern(
                db,
                operator(),
                PatternCreate(
                    doctor_id=doctor_id,
                    weekdays=[weekday],
                    start_time="08:00",
                    end_time="09:00",
                    slot_minutes=30,
                    first_date=date.today() + timedelta(days=90),
                    weeks=1,
                ),
            ).id
        db.commit()
    return world


def _fill(path: str, world: dict, target: str, role: str, client) -> str:
    slug = "grand-arras" if target == "own" else "provence-sante"
    token = world["other_token"]
    if target == "own" and "{token}" in path and role != "anonymous":
        token = client.get("/api/v1/auth/tokens", headers=world["headers"][role]).json()[0]["id"]
    web_session = world["web_sessions"].get(role if target == "own" else "other")
    return path.format(
        web_session=web_session,
        doctor=world["doctors"][slug],
        user=world["users"][slug],
        cpts=slug,
        token=token,
        request=world["requests"][slug],
        source=world["sources"][slug],
        kind="png",
        slot=world["slot"][slug],
        spare_slot=world["spare_slot"][slug],
        pattern=world["pattern"][slug],
        page_slot=world["page_slot"][slug],
        spare_pattern=world["spare_pattern"][slug],
        booking=world["booking"][slug],
        past_booking=world["past_booking"][slug],
        invitation=world["invitation"][slug],
        application=world["application"][slug],
    )


def _classify(response) -> str:
    if response.status_code == 303 and response.request.url.path.startswith("/espace"):
        return SIGNIN if response.headers["location"].startswith("/espace/connexion") else OK
    return OK if 200 <= response.status_code < 300 else str(response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_answers_each_role_as_the_table_says(client, world, role):
    """…and reads a CPTS's rows only through app.accounts.access (tests/helpers/scoped_queries.py)."""
    from tests.factories import DOCTORS_CSV_HEADER as HEADER
    from tests.factories import doctor_csv_row as row

    mismatches = []
    with scoped_reads_guard() as guard:
        _walk(client, world, role, HEADER, row, mismatches)
    assert mismatches == [], "\n".join(mismatches)
    assert guard.violations == []
    if role not in ("anonymous", "regulator"):  # those two are refused before any read
        assert guard.reads > 0  # the hook saw the app's reads


def _walk(client, world, role, HEADER, row, mismatches: list[str]) -> None:
    for entry, target in itertools.product(TABLE, ("own", "other")):
        expected = entry.expect.get(role, same("401"))[0 if target == "own" else 1]
        # Logging out or revoking its own token would sign the caller out for the next rows.
        signs_out = entry.path.startswith("/api/v1/auth/logout") or (
            target == "own" and (entry.method == "DELETE" or entry.path.endswith("/jetons/{token}/revoquer"))
        )
        if signs_out and role != "anonymous":
            continue
        slug = "grand-arras" if target == "own" else "provence-sante"
        kwargs = {"headers": world["headers"][role]}
        if entry.upload:
            doctor_row = row(
                800 + next(_emails),
                city="Arras" if target == "own" else "Rousset",
                postcode="62000" if target == "own" else "13790",
            )
            kwargs["files"] = {"file": ("m.csv", f"{HEADER}\n{doctor_row}".encode(), "text/csv")}
        elif entry.body is not None:
            body = entry.body(slug, world) if callable(entry.body) else entry.body
            kwargs["data" if entry.path.startswith("/espace") else "json"] = body
        path = _fill(entry.path, world, target, role, client)
        response = client.request(entry.method, path, follow_redirects=False, **kwargs)
        if _classify(response) != expected:
            mismatches.append(
                f"{entry.method} {entry.path} [{target}]: expected {expected}, got {response.status_code}"
            )


def _api_routes(routes) -> list[APIRoute]:
    """Every endpoint, including those of included routers (which FastAPI wraps)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def test_the_table_covers_every_endpoint(client):
    def shape(path: str) -> str:  # "/doctors/{doctor_id}" and "/doctors/{doctor}" are one endpoint
        return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])

    routes = {(m, shape(r.path)) for r in _api_routes(client.app.routes) for m in r.methods - {"HEAD"}}
    assert len(routes) > 30  # the walk above reaches into the included routers
    covered = {(row.method, shape(row.path)) for row in TABLE} | {
        (m, shape(p)) for m, p in PUBLIC | PLATFORM | PROVIDERS
    }
    assert routes - covered == set(), "add these endpoints to TABLE (or PUBLIC)"

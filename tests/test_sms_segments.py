"""What an SMS costs: the GSM 03.38 counter, and every SMS template within two segments for the
longest names of the demo (communes of the demo CPTS, doctors, sources, addresses).

The templates are enumerated from the template registry (the files themselves): a template
added later is rendered here without anyone listing it. Each variable gets every value worth
trying (below); a variable nobody listed gets a worst case guessed from its name."""

import itertools
import secrets
from functools import cache

import pytest
from jinja2 import meta

from app.demo import DEMO_TERRITORIES
from app.demo_people import FAMILY_NAMES, GIVEN_NAMES, STREETS
from app.notifications import templates
from app.notifications.gsm import cost, is_gsm, to_gsm
from app.requests.messages import CLOSED_BECAUSE
from app.territories.communes import get_commune_index
from app.territories.service import resolve_communes

BASE = "https://orientation.cpts-exemple.fr"  # a deployment's PUBLIC_URL, of a common length


def test_the_counter_follows_gsm_03_38():
    assert cost("a" * 160).segments == 1 and cost("a" * 161).segments == 2
    assert cost("a" * 306).segments == 2 and cost("a" * 307).segments == 3
    # The extension table counts two: 80 euros signs fill one segment.
    assert cost("€" * 80).segments == 1 and cost("€" * 81).segments == 2
    assert cost("€").encoding == "GSM 7" and cost("€").length == 2
    # One character outside GSM 7 switches the whole text to UCS-2: 70, then 67 per segment.
    assert cost("ê" + "a" * 69).segments == 1 and cost("ê" + "a" * 70).segments == 2
    assert cost("ê" + "a" * 133).segments == 2 and cost("ê" + "a" * 134).segments == 3
    assert cost("ç").encoding == "UCS-2"


def test_french_stays_in_gsm_7_where_it_can():
    # é, è, à, ù, ì, ò, É and Ç are GSM 7: kept as written.
    assert to_gsm("Hélène, à côté, où, Ça") == "Hélène, à coté, où, Ça"
    assert is_gsm("éèàùìòÉÇ") and not is_gsm("ç") and not is_gsm("ê")
    assert to_gsm("Benoît Françoise Noël Chloë hôpital sûr Œuvre") == "Benoit Francoise Noel Chloe hopital sur OEuvre"
    assert to_gsm("l’été «ici» — 14\u202fh") == 'l\'été "ici" - 14 h'
    assert to_gsm("Łukasz Şahin") == "Lukasz Sahin"
    assert to_gsm("李") == "李"  # nothing close: kept, and the SMS goes in UCS-2


def test_an_sms_is_rendered_in_gsm_7_and_an_email_keeps_its_spelling():
    sms = templates.render("receipt", "sms", territory="CPTS Forêt", territory_phone=None, follow_up_url="x", by=None)
    email = templates.render(
        "receipt",
        "email",
        given_name="Françoise",
        territory="CPTS Forêt",
        territory_phone=None,
        follow_up_url="x",
        by=None,
    )
    assert "Foret" in sms[1] and is_gsm(sms[1])
    assert "Forêt" in email[1] and "Françoise" in email[1]


@cache
def _longest_communes() -> list[str]:
    index = get_commune_index()
    names = set()
    for spec in DEMO_TERRITORIES:
        for insee in resolve_communes(list(spec.communes), index):
            commune = index.get(insee)
            assert commune is not None
            names.add(commune.name)
    return sorted(names, key=len, reverse=True)[:2]


def _longest(words: list[str]) -> str:
    return max(words, key=lambda w: (cost(to_gsm(w)).length, w))


def _doctor() -> dict[str, str]:
    name = f"Dr {_longest(GIVEN_NAMES)} {_longest(FAMILY_NAMES)}"
    return {
        "name": name,
        "address": f"128 {_longest(STREETS)}",
        "commune": _longest_communes()[0],
        "phone": "03 21 00 00 01",
        "distance": "12,5",
    }


def _territories() -> list[str]:
    return sorted({t.name for t in DEMO_TERRITORIES}, key=len, reverse=True)[:1]


def _link(path: str) -> str:
    return f"{BASE}{path}{secrets.token_urlsafe(32)}"


def _offer_link() -> str:
    """As app/requests/offers.py makes it, with large ids and a key of the length the service makes."""
    from app.core.settings import Settings
    from app.requests import offers
    from app.requests.models import DoctorOffer

    offer = DoctorOffer(id=9_999_999, doctor_id=9_999_999, link_hash="issued")
    return offers.offer_url(Settings(secret_key=secrets.token_urlsafe(48)), BASE, offer)


def test_the_offer_link_is_short_and_unguessable():
    # What a phone shows on one line or two: the address, the path, 22 characters (128 bits).
    link = _offer_link()
    token = link.rsplit("/", 1)[1]
    assert link == f"{BASE}/medecins/propositions/{token}"
    assert len(token) == 22 and len(link) == len(BASE) + 45
    assert len(link) <= len(_link("/suivi/"))  # no longer than a patient's follow-up link
    # The signed links of before took 50 to 62 characters after the path, more as the ids grow.
    assert cost(link).encoding == "GSM 7"


# Every value worth trying, per variable: the longest of the demo, and each branch's choice.
VALUES: dict[str, list[object]] = {
    "territory": _territories(),
    "territory_phone": ["03 21 00 00 01", None],
    "privacy_url": [f"{BASE}/confidentialite"],
    "follow_up_url": [_link("/suivi/")],
    "link": [_offer_link()],
    "commune": _longest_communes(),
    "hours": ["72"],
    "given_name": [_longest(GIVEN_NAMES)],
    "family_name": [_longest(FAMILY_NAMES)],
    "doctors": [[_doctor()] * 3, [_doctor()]],
    "doctor": [_doctor()],
    "status": ["matched", "closed"],
    "closed_because": [*CLOSED_BECAUSE.values(), None],
    "by": ["Pharmacie de la Gare, Arras", None],
    "cancelled": [True, False],
    "when": ["28/12/2026 à 18:45"],
    "who": [_doctor()["name"]],
    "where": [
        f"{_doctor()['address']}, {_longest_communes()[0]}",
        "en téléconsultation (le lien vous sera envoyé)",
        "en visite à domicile",
    ],
}


def _guess(name: str) -> list[object]:
    """A variable no one listed above: a worst case from its name (a link, a phone, a name…)."""
    if "url" in name or "link" in name:
        return [_link("/x/")]
    if "phone" in name:
        return ["03 21 00 00 01"]
    if "doctor" in name or name in ("who", "name"):
        return [_doctor()["name"]]
    if name.endswith(("hours", "days", "count", "minutes")):
        return ["72"]
    return [_longest_communes()[0]]


def _sms_templates() -> list[str]:
    return [kind for kind, channel in templates.registry() if channel == "sms"]


def test_the_registry_finds_the_sms_templates():
    assert {"receipt", "doctor_list", "outcome", "offer", "snp_booking"} <= set(_sms_templates())


@pytest.mark.parametrize("kind", _sms_templates())
def test_every_sms_template_stays_within_two_segments(kind):
    source = templates.source(kind, "sms")
    variables = sorted(meta.find_undeclared_variables(templates.environment().parse(source)))
    choices = [VALUES.get(name) or _guess(name) for name in variables]
    worst = None
    for combination in itertools.islice(itertools.product(*choices), 2000):
        _, body = templates.render(kind, "sms", **dict(zip(variables, combination, strict=True)))
        found = cost(body)
        if worst is None or found.length > worst[0].length or found.segments > worst[0].segments:
            worst = (found, body)
    assert worst is not None
    found, body = worst
    assert found.encoding == "GSM 7", f"{kind}: a character outside GSM 7 doubles the cost: {body!r}"
    assert found.segments <= 2, f"{kind}: {found.label}: {body}"

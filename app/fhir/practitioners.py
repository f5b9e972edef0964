"""INT_R02: a regulator account as the SAS platform sends it (FrPractitionerRegul), and back."""

from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.fhir import profiles as p
from app.fhir.outcome import FhirError

_KINDS = {p.NATIONAL_PS: "IDNPS", p.SAS_PLATFORM: "INTRN"}


@dataclass(frozen=True)
class RegulatorData:
    identifiers: list[tuple[str, str, str]]  # (system, value, IDNPS | INTRN)
    family_name: str
    given_names: list[str]  # as sent: ["Jean Pierre"] or ["Jean", "Pierre"]
    email: str
    active: bool


def _bad(expression: str, message: str, code: str = "invalid") -> FhirError:
    return FhirError(400, code, message, expression)


def parse_regulator(body: Any) -> RegulatorData:
    if not isinstance(body, dict) or body.get("resourceType") != "Practitioner":
        raise _bad("Practitioner", "Ressource Practitioner attendue.")
    source = (body.get("meta") or {}).get("source")
    if source is not None and source != p.SAS_PLATFORM:
        raise _bad("Practitioner.meta.source", f"meta.source doit valoir {p.SAS_PLATFORM}.")
    identifiers = []
    for item in body.get("identifier") or []:
        system, value = (item or {}).get("system"), str((item or {}).get("value") or "").strip()
        if system not in _KINDS:
            raise _bad("Practitioner.identifier.system", f"Système d'identifiant inconnu : {system!r}.")
        if not value or len(value) > 64:
            raise _bad("Practitioner.identifier.value", "Valeur d'identifiant absente ou trop longue.", "required")
        identifiers.append((system, value, _KINDS[system]))
    if not identifiers:
        raise _bad(
            "Practitioner.identifier",
            "Au moins un identifiant (national ou technique SAS) est obligatoire.",
            "required",
        )
    names = body.get("name") or []
    name = names[0] if names and isinstance(names[0], dict) else {}
    family = str(name.get("family") or "").strip()
    given = name.get("given") or []
    given_names = [" ".join(str(g).split()) for g in (given if isinstance(given, list) else [given])]
    given_names = [g[:100] for g in given_names if g][:5]
    if not family or not given_names:
        raise _bad("Practitioner.name", "name.family et name.given sont obligatoires.", "required")
    emails = [
        t.get("value") for t in body.get("telecom") or [] if isinstance(t, dict) and t.get("system", "email") == "email"
    ]
    if not emails or not emails[0]:
        raise _bad("Practitioner.telecom", "Une adresse e-mail (telecom) est obligatoire.", "required")
    try:
        email = validate_email(str(emails[0]), check_deliverability=False).normalized
    except EmailNotValidError:
        raise _bad("Practitioner.telecom.value", "Adresse e-mail invalide.") from None
    active = body.get("active")
    if not isinstance(active, bool):
        raise _bad("Practitioner.active", "active (true ou false) est obligatoire.", "required")
    return RegulatorData(identifiers, family[:100], given_names, email, active)


def regulator_resource(user_id: int, data: RegulatorData) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": f"reg-{user_id}",
        "meta": {"profile": [p.REGULATOR], "source": p.SAS_PLATFORM},
        "identifier": [
            {"type": {"coding": [{"system": p.IDENTIFIER_TYPE, "code": kind}]}, "system": system, "value": value}
            for system, value, kind in data.identifiers
        ],
        "active": data.active,
        "name": [{"family": data.family_name, "given": data.given_names}],
        "telecom": [{"system": "email", "value": data.email}],
    }


def parse_identifier_query(value: str | None) -> tuple[str, str]:
    """`PUT Practitioner?identifier=system|value`."""
    if not value or "|" not in value:
        raise _bad("identifier", "Paramètre identifier=système|valeur obligatoire.", "required")
    system, _, ident = value.partition("|")
    if system not in _KINDS or not ident:
        raise _bad("identifier", f"Système d'identifiant inconnu : {system!r}.")
    return system, ident

"""INT_R04: slots and what they refer to, as the SAS guide's CPTS profiles shape them.

Resources are built as plain dicts (the feed must answer in milliseconds); the tests check
them against a FHIR model library and the guide's rules."""

import random
import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from app.fhir import profiles as p
from app.snp.repository import SasSlotRow
from app.snp.rules import PARIS, visibility_codes


def fhir_instant(value: datetime) -> str:
    """An instant with Paris's offset, as the guide's examples write them."""
    return value.astimezone(PARIS).isoformat(timespec="seconds")


def practitioner_id(doctor_id: int) -> str:
    return f"doc-{doctor_id}"


def role_id(doctor_id: int, place_id: int | str) -> str:
    """A doctor at a place: its practice ("12-4"), or a centre whose slots it works ("12-c3")."""
    return f"{doctor_id}-{place_id}"


def _identifier(system: str, value: str, type_system: str, type_code: str) -> dict[str, Any]:
    return {"type": {"coding": [{"system": type_system, "code": type_code}]}, "system": system, "value": value}


def practitioner(doctor_id: int, rpps: str, family_name: str, given_name: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": practitioner_id(doctor_id),
        "meta": {"profile": [p.PRACTITIONER]},
        "identifier": [_identifier(p.NATIONAL_PS, "8" + rpps, p.IDENTIFIER_TYPE, "IDNPS")],
        "name": [{"family": family_name, "given": [given_name], "prefix": ["DR"]}],
    }


def practitioner_role(
    doctor_id: int, location_id: int | str, address: str, postcode: str, city: str, phone: str | None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": role_id(doctor_id, location_id),
        "meta": {"profile": [p.PRACTITIONER_ROLE]},
        "contained": [
            {
                "resourceType": "Location",
                "id": "location",
                "meta": {"profile": [p.LOCATION]},
                "address": {"line": [address], "city": city, "postalCode": postcode},
            }
        ],
        "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner_id(doctor_id)}"},
        "location": [{"reference": "#location"}],
    }
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    return resource


def schedule(doctor_id: int, location_id: int | str) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": role_id(doctor_id, location_id),
        "meta": {"profile": [p.SCHEDULE]},
        "active": True,
        "actor": [
            {"reference": f"Practitioner/{practitioner_id(doctor_id)}"},
            {"reference": f"PractitionerRole/{role_id(doctor_id, location_id)}"},
        ],
    }


def healthcare_service(territory_id: int, territory_name: str) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService",
        "id": str(territory_id),
        "meta": {"profile": [p.HEALTHCARE_SERVICE]},
        "active": True,
        "providedBy": {"reference": f"Organization/{territory_id}"},
        "name": f"Soins non programmés – {territory_name}",
    }


def organization(territory_id: int, name: str, finess: str, phone: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(territory_id),
        "meta": {"profile": [p.ORGANIZATION]},
        "identifier": [_identifier(p.NATIONAL_STRUCTURE, "1" + finess, p.IDENTIFIER_TYPE_FR_CORE, "IDNST")],
        "name": name,
    }
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    return resource


# The parts of a Slot that many slots share are built once and the same objects reused: a
# search answers with dozens of slots, and the JSON encoder does not mind shared objects.
@cache
def _security(visibility: int) -> list[dict[str, str]]:
    return [{"system": p.SLOT_TYPE, "code": code} for code in visibility_codes(visibility)]


@cache
def _meta(visibility: int) -> dict[str, Any]:
    return {"profile": [p.SLOT], "security": _security(visibility)}


@cache
def _service_types(kind: str, territory_id: int) -> list[dict[str, Any]]:
    return [
        {"coding": [{"system": p.ACT_CODE, "code": kind}]},
        {
            "extension": [
                {"url": p.SERVICE_TYPE_R5, "valueReference": {"reference": f"HealthcareService/{territory_id}"}}
            ],
            "coding": [{"system": p.ESTABLISHMENT_CATEGORY, "code": p.CPTS_CATEGORY}],
        },
    ]


@cache
def _specialty(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": p.SPECIALTY, "code": code}]}]


@cache
def _appointment_type(code: str) -> dict[str, Any]:
    return {"coding": [{"system": p.APPOINTMENT_REASON, "code": code}]}


def slot(row: SasSlotRow, booking_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": str(row.slot_id),
        "meta": _meta(row.visibility),
        "serviceType": _service_types(row.kind, row.territory_id),
        "specialty": _specialty(row.specialty),
        "appointmentType": _appointment_type(row.appointment_type),
        "schedule": {"reference": f"Schedule/{role_id(row.doctor_id, row.place_id)}"},
        "status": "free",
        "start": fhir_instant(row.start_at),
        "end": fhir_instant(row.end_at),
        "comment": booking_url,
    }


class Includes:
    """What `_include` / `_include:iterate` asked for: each level needs the one before."""

    def __init__(self, include: Iterable[str], iterate: Iterable[str]) -> None:
        include, iterate = set(include), set(iterate)
        self.schedule = "Slot:schedule" in include
        self.actors = self.schedule and "Schedule:actor" in iterate
        self.service = "Slot:service-type-reference" in include
        self.organization = self.service and "HealthcareService:organization" in iterate


def searchset(rows: list[SasSlotRow], includes: Includes, base_url: str, self_url: str, booking_url) -> dict[str, Any]:
    """The searchset Bundle: every slot (search.mode match), then each included resource
    once, however many slots refer to it (search.mode include)."""
    matches: list[dict[str, Any]] = []
    included: dict[str, dict[str, Any]] = {}

    def include(resource_type: str, resource_id: str, build) -> None:
        key = f"{resource_type}/{resource_id}"
        if key not in included:
            included[key] = {"fullUrl": f"{base_url}/{key}", "resource": build(), "search": {"mode": "include"}}

    for row in rows:
        matches.append(
            {
                "fullUrl": f"{base_url}/Slot/{row.slot_id}",
                "resource": slot(row, booking_url(row.slot_id)),
                "search": {"mode": "match"},
            }
        )
        schedule_id = role_id(row.doctor_id, row.place_id)
        if includes.schedule:
            include("Schedule", schedule_id, lambda row=row: schedule(row.doctor_id, row.place_id))
        if includes.actors:
            include(
                "Practitioner",
                practitioner_id(row.doctor_id),
                lambda row=row: practitioner(row.doctor_id, row.rpps, row.family_name, row.given_name),
            )
            include(
                "PractitionerRole",
                schedule_id,
                lambda row=row: practitioner_role(
                    row.doctor_id,
                    row.place_id,
                    row.address,
                    row.postcode,
                    row.city,
                    row.location_phone or row.doctor_phone,
                ),
            )
        if includes.service:
            include(
                "HealthcareService",
                str(row.territory_id),
                lambda row=row: healthcare_service(row.territory_id, row.territory_name),
            )
        if includes.organization:
            include(
                "Organization",
                str(row.territory_id),
                lambda row=row: organization(row.territory_id, row.territory_name, row.finess, row.territory_phone),
            )
    return {
        # A random id (not a secret): random's generator, not the system's, which cost more.
        "resourceType": "Bundle",
        "id": str(uuid.UUID(int=random.getrandbits(128), version=4)),
        "meta": {"profile": [p.BUNDLE]},
        "type": "searchset",
        "total": len(matches),
        "link": [{"relation": "self", "url": self_url}],
        "entry": matches + list(included.values()),
    }

"""The SAS guide's rules for an INT_R04 answer, checked on a Bundle; and every resource
parsed by a maintained FHIR model library (fhir.resources, R4B: the R4 resources we use
are unchanged in it). `problems(bundle)` lists what is wrong; empty means conformant."""

import re
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from app.fhir import profiles as p

PROFILES = {
    "Bundle": p.BUNDLE,
    "Slot": p.SLOT,
    "Schedule": p.SCHEDULE,
    "Practitioner": p.PRACTITIONER,
    "PractitionerRole": p.PRACTITIONER_ROLE,
    "HealthcareService": p.HEALTHCARE_SERVICE,
    "Organization": p.ORGANIZATION,
    "Location": p.LOCATION,
}
SLOT_TYPES = {"PUBLIC", "PRO", "SNP", "CPTS"}
CONSULTATION_KINDS = {"AMB", "HH", "VR"}


def model_problems(resource: dict[str, Any]) -> list[str]:
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except (ValidationError, ValueError, KeyError) as exc:
        return [f"{resource.get('resourceType')}/{resource.get('id')}: not valid FHIR: {exc}"[:500]]
    return []


def _profile(resource: dict[str, Any]) -> list[str]:
    wanted = PROFILES[resource["resourceType"]]
    if wanted not in (resource.get("meta") or {}).get("profile", []):
        return [f"{resource['resourceType']}/{resource.get('id')}: meta.profile lacks {wanted}"]
    return []


def problems(bundle: dict[str, Any]) -> list[str]:
    found = model_problems(bundle) + _profile(bundle)
    if bundle.get("type") != "searchset":
        found.append("Bundle.type must be searchset")
    links = bundle.get("link") or []
    if len(links) != 1 or links[0].get("relation") != "self" or not links[0].get("url"):
        found.append("Bundle.link must be exactly one self link")
    entries = bundle.get("entry") or []
    by_url = {}
    for entry in entries:
        resource = entry.get("resource") or {}
        key = f"{resource.get('resourceType')}/{resource.get('id')}"
        if not entry.get("fullUrl") or not entry["fullUrl"].endswith("/" + key):
            found.append(f"{key}: fullUrl missing or not ending in {key}")
        if key in by_url:
            found.append(f"{key}: included more than once")
        by_url[key] = resource
        mode = (entry.get("search") or {}).get("mode")
        expected = "match" if resource.get("resourceType") == "Slot" else "include"
        if mode != expected:
            found.append(f"{key}: search.mode {mode!r}, expected {expected!r}")
        found += model_problems(resource) + _profile(resource)
    slots = [r for r in by_url.values() if r["resourceType"] == "Slot"]
    if bundle.get("total") != len(slots):
        found.append(f"Bundle.total {bundle.get('total')} but {len(slots)} Slot entries")
    for slot in slots:
        found += _slot_problems(slot, by_url)
    for resource in by_url.values():
        checker = _CHECKS.get(resource["resourceType"])
        if checker:
            found += checker(resource, by_url)
    return found


def _ref_included(reference: str, by_url: dict, what: str, owner: str) -> list[str]:
    kind = reference.split("/")[0]
    if any(k.startswith(kind + "/") for k in by_url) and reference not in by_url:
        return [f"{owner}: {what} {reference} not in the Bundle while other {kind}s are"]
    return []


def _slot_problems(slot: dict, by_url: dict) -> list[str]:
    key, found = f"Slot/{slot['id']}", []
    if slot.get("status") != "free":
        found.append(f"{key}: status must be free")
    if not slot.get("start") or not slot.get("end") or slot["end"] <= slot["start"]:
        found.append(f"{key}: start/end missing or out of order")
    security = (slot.get("meta") or {}).get("security") or []
    if not security or any(s.get("system") != p.SLOT_TYPE or s.get("code") not in SLOT_TYPES for s in security):
        found.append(f"{key}: meta.security must hold TRE_R314 slot types")
    kinds = [c for st in slot.get("serviceType", []) for c in st.get("coding", []) if c.get("system") == p.ACT_CODE]
    if not kinds or any(c.get("code") not in CONSULTATION_KINDS for c in kinds):
        found.append(f"{key}: serviceType needs an ActCode AMB/HH/VR")
    cpts = [
        st
        for st in slot.get("serviceType", [])
        if any(c.get("system") == p.ESTABLISHMENT_CATEGORY and c.get("code") == "604" for c in st.get("coding", []))
    ]
    if len(cpts) != 1:
        found.append(f"{key}: one serviceType 604 (TRE_R66) expected")
    else:
        ext = [e for e in cpts[0].get("extension", []) if e.get("url") == p.SERVICE_TYPE_R5]
        ref = ((ext[0] if ext else {}).get("valueReference") or {}).get("reference", "")
        if not ref.startswith("HealthcareService/"):
            found.append(f"{key}: CPTS serviceType must reference its HealthcareService")
        found += _ref_included(ref, by_url, "HealthcareService", key)
    reason = ((slot.get("appointmentType") or {}).get("coding") or [{}])[0]
    if reason.get("system") != p.APPOINTMENT_REASON or reason.get("code") not in ("ROUTINE", "WALKIN"):
        found.append(f"{key}: appointmentType must be v2-0276 ROUTINE or WALKIN")
    specialty = [c for s in slot.get("specialty", []) for c in s.get("coding", [])]
    if not specialty or specialty[0].get("system") != p.SPECIALTY:
        found.append(f"{key}: specialty from TRE_R38 expected")
    if not re.match(r"^https?://", slot.get("comment") or ""):
        found.append(f"{key}: comment must be the booking URL")
    schedule = (slot.get("schedule") or {}).get("reference", "")
    if not schedule.startswith("Schedule/"):
        found.append(f"{key}: schedule reference missing")
    found += _ref_included(schedule, by_url, "Schedule", key)
    return found


def _schedule(resource: dict, by_url: dict) -> list[str]:
    key = f"Schedule/{resource['id']}"
    actors = [a.get("reference", "") for a in resource.get("actor", [])]
    found = []
    if not any(a.startswith("Practitioner/") for a in actors) or not any(
        a.startswith("PractitionerRole/") for a in actors
    ):
        found.append(f"{key}: actor must name a Practitioner and a PractitionerRole")
    for actor in actors:
        found += _ref_included(actor, by_url, "actor", key)
    return found


def _practitioner(resource: dict, _by_url: dict) -> list[str]:
    key = f"Practitioner/{resource['id']}"
    ids = resource.get("identifier") or []
    good = [
        i
        for i in ids
        if i.get("system") == p.NATIONAL_PS
        and re.match(r"^[80]\d+$", i.get("value", ""))
        and any(c.get("code") == "IDNPS" for c in (i.get("type") or {}).get("coding", []))
    ]
    found = [] if good else [f"{key}: identifier IDNPS urn:oid:1.2.250.1.71.4.2.1 with 8+RPPS expected"]
    names = resource.get("name") or [{}]
    if not names[0].get("family") or not names[0].get("given"):
        found.append(f"{key}: name.family and name.given expected")
    return found


def _role(resource: dict, by_url: dict) -> list[str]:
    key = f"PractitionerRole/{resource['id']}"
    contained = {c.get("id"): c for c in resource.get("contained", []) if c.get("resourceType") == "Location"}
    locations = [loc.get("reference", "") for loc in resource.get("location", [])]
    found = []
    if len(locations) != 1 or not locations[0].startswith("#") or locations[0][1:] not in contained:
        found.append(f"{key}: location must be one reference to a contained Location")
    for location in contained.values():
        found += _profile(location)
        address = location.get("address") or {}
        if len(address.get("line") or []) != 1 or not address.get("city") or not address.get("postalCode"):
            found.append(f"{key}: contained Location needs address.line, city and postalCode")
    practitioner = (resource.get("practitioner") or {}).get("reference", "")
    if not practitioner.startswith("Practitioner/"):
        found.append(f"{key}: practitioner reference missing")
    return found + _ref_included(practitioner, by_url, "practitioner", key)


def _service(resource: dict, by_url: dict) -> list[str]:
    key = f"HealthcareService/{resource['id']}"
    org = (resource.get("providedBy") or {}).get("reference", "")
    found = [] if org.startswith("Organization/") else [f"{key}: providedBy must reference the CPTS Organization"]
    return found + _ref_included(org, by_url, "providedBy", key)


def _organization(resource: dict, _by_url: dict) -> list[str]:
    key = f"Organization/{resource['id']}"
    ids = resource.get("identifier") or []
    if (
        len(ids) != 1
        or ids[0].get("system") != p.NATIONAL_STRUCTURE
        or not re.match(r"^1[0-9]{9}$", ids[0].get("value", ""))
    ):
        return [f"{key}: one identifier urn:oid:1.2.250.1.71.4.2.2 with 1+FINESS expected"]
    return []


_CHECKS = {
    "Schedule": _schedule,
    "Practitioner": _practitioner,
    "PractitionerRole": _role,
    "HealthcareService": _service,
    "Organization": _organization,
}

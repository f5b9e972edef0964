"""GET /fhir/metadata: what this server offers the SAS platform."""

from typing import Any

from app.fhir import profiles as p


def capability_statement(base_url: str) -> dict[str, Any]:
    def read(resource_type: str, profile: str) -> dict[str, Any]:
        return {"type": resource_type, "profile": profile, "interaction": [{"code": "read"}]}

    slot = read("Slot", p.SLOT)
    slot["interaction"].append({"code": "search-type"})
    slot["searchParam"] = [
        {"name": "start", "type": "date", "documentation": "Deux bornes : ge… et le… (31 jours au plus)."},
        {
            "name": "schedule.actor:Practitioner.identifier",
            "type": "token",
            "documentation": "1 à 25 professionnels : urn:oid:1.2.250.1.71.4.2.1|8<RPPS>, séparés par des virgules.",
        },
        {"name": "status", "type": "token", "documentation": "free uniquement."},
    ]
    slot["searchInclude"] = ["Slot:schedule", "Slot:service-type-reference"]
    slot["searchRevInclude"] = []
    practitioner = read("Practitioner", p.PRACTITIONER)
    practitioner["supportedProfile"] = [p.REGULATOR]
    practitioner["interaction"] += [{"code": "create"}, {"code": "update"}]
    practitioner["conditionalUpdate"] = True
    schedule = read("Schedule", p.SCHEDULE)
    schedule["searchInclude"] = ["Schedule:actor"]
    service = read("HealthcareService", p.HEALTHCARE_SERVICE)
    service["searchInclude"] = ["HealthcareService:organization"]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "Orientation",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": [p.FHIR_JSON, "application/json+fhir", "json"],
        "implementation": {"description": "Orientation – créneaux de soins non programmés de la CPTS", "url": base_url},
        "rest": [
            {
                "mode": "server",
                "security": {"description": "TLS mutuel : certificat client IGC-Santé de la plateforme SAS."},
                "resource": [
                    slot,
                    schedule,
                    practitioner,
                    read("PractitionerRole", p.PRACTITIONER_ROLE),
                    service,
                    read("Organization", p.ORGANIZATION),
                ],
            }
        ],
    }

"""FrAppointmentSAS: the appointment we push to the SAS platform after a regulator booked."""

import json

from app.core.database import utcnow
from app.core.settings import Settings
from app.fhir import profiles as p
from app.fhir.slots import fhir_instant
from app.snp.models import Booking, Slot


def appointment_resource(settings: Settings, booking: Booking, slot: Slot, operator: tuple[str, str, str]) -> str:
    """The JSON body. `operator`: (system, value, type) of the regulator who booked, for the
    FrAppointmentOperator extension (1..1 in the profile)."""
    doctor = slot.doctor
    if doctor is None:  # the SAS is served doctors' slots only (snp.repository's SAS query)
        raise ValueError("a SAS appointment is with a doctor")
    resource: dict = {
        "resourceType": "Appointment",
        "meta": {"profile": [p.APPOINTMENT]},
        "identifier": [{"system": settings.appointment_identifier_system, "value": booking.sas_appointment_id}],
        "status": booking.status,
        "start": fhir_instant(slot.start_at),
        "end": fhir_instant(slot.end_at),
        "created": fhir_instant(booking.created_at or utcnow()),
        "participant": [
            {
                "actor": {
                    "identifier": {
                        "type": {"coding": [{"system": p.IDENTIFIER_TYPE, "code": "IDNPS"}]},
                        "system": p.NATIONAL_PS,
                        "value": "8" + doctor.rpps,
                    }
                },
                "status": "accepted",
            }
        ],
    }
    system, value, kind = operator
    resource["extension"] = [
        {
            "url": p.APPOINTMENT_OPERATOR,
            "valueReference": {
                "identifier": {
                    "type": {"coding": [{"system": p.IDENTIFIER_TYPE, "code": kind}]},
                    "system": system,
                    "value": value,
                }
            },
        }
    ]
    return json.dumps(resource, ensure_ascii=False)


def operator_of(body: str | None) -> tuple[str, str, str] | None:
    """The (system, value, type) of the FrAppointmentOperator of an appointment we sent; None
    when the body is gone (erased by retention) or holds none."""
    try:
        resource = json.loads(body or "")
        for extension in resource.get("extension", []):
            if extension.get("url") == p.APPOINTMENT_OPERATOR:
                identifier = extension["valueReference"]["identifier"]
                return identifier["system"], identifier["value"], identifier["type"]["coding"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    return None

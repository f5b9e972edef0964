"""FrAppointmentSAS: the appointment we push to the SAS platform after a regulator booked."""

import json

from app.core.database import utcnow
from app.core.settings import Settings
from app.fhir import profiles as p
from app.fhir.slots import fhir_instant
from app.snp.models import Booking, Slot


def appointment_resource(
    settings: Settings, booking: Booking, slot: Slot, operator: tuple[str, str, str] | None
) -> str:
    """The JSON body. `operator`: (system, value, type) of the regulator who booked."""
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
    if operator is not None:
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

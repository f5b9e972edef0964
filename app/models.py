"""Every mapped model, imported in one place so that Alembic and the tests see them all."""

from app.accounts.models import ApiToken, Membership, RecoveryCode, User, WebSession
from app.audit.models import AuditEvent
from app.calls.models import PhoneCall
from app.core.database import Base
from app.core.ratelimit import RateLimitCounter
from app.directory.models import DirectoryImport, DirectoryPractice, DirectoryPractitioner
from app.doctors.models import Doctor, PracticeLocation
from app.geocoding.models import GeocodeCacheEntry
from app.notifications.models import OutboxMessage, WeeklyDigest, WorkerHeartbeat
from app.recruitment.models import DoctorInvitation, VolunteerApplication
from app.requests.models import PatientRequest, RequestEvent, Source
from app.snp.models import Booking, Centre, RegulatorIdentifier, Slot, SlotPattern, WalkIn
from app.territories.models import Territory, TerritoryCommune

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "DirectoryImport",
    "DirectoryPractice",
    "DirectoryPractitioner",
    "Doctor",
    "DoctorInvitation",
    "GeocodeCacheEntry",
    "Membership",
    "OutboxMessage",
    "PatientRequest",
    "RateLimitCounter",
    "PracticeLocation",
    "RecoveryCode",
    "RequestEvent",
    "Source",
    "Territory",
    "TerritoryCommune",
    "User",
    "VolunteerApplication",
    "WebSession",
    "WeeklyDigest",
    "WorkerHeartbeat",
    "Booking",
    "Centre",
    "RegulatorIdentifier",
    "Slot",
    "SlotPattern",
    "WalkIn",
    "PhoneCall",
]

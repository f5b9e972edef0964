"""The territory page's and the recruitment's queries, each scoped to the caller
(app.accounts.access), but for the public sign-up page's two reads, named as such."""

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.directory.models import DirectoryPractitioner
from app.doctors.models import Doctor, PracticeLocation
from app.doctors.repository import accepting_clause
from app.notifications.models import OutboxMessage
from app.recruitment.models import ApplicationStatus, DoctorInvitation, VolunteerApplication
from app.requests.models import OPEN_STATUSES, PatientRequest
from app.snp.models import Centre, Slot, SlotStatus


def directory_practitioner(
    session: Session, principal: Principal, territory_id: int, rpps: str
) -> DirectoryPractitioner | None:
    return session.scalars(
        select(DirectoryPractitioner).where(
            visible(DirectoryPractitioner, principal),
            DirectoryPractitioner.territory_id == territory_id,
            DirectoryPractitioner.rpps == rpps,
        )
    ).one_or_none()


def practitioners_by_id(session: Session, principal: Principal, ids: Sequence[int]) -> dict[int, DirectoryPractitioner]:
    found = session.scalars(
        select(DirectoryPractitioner).where(
            visible(DirectoryPractitioner, principal), DirectoryPractitioner.id.in_(list(ids))
        )
    )
    return {entry.id: entry for entry in found}


def volunteers(session: Session, principal: Principal, territory_id: int) -> Sequence[Doctor]:
    """The active volunteer doctors of a CPTS (their practices loaded with them)."""
    return session.scalars(
        select(Doctor)
        .where(visible(Doctor, principal), Doctor.territory_id == territory_id, Doctor.active.is_(True))
        .order_by(Doctor.family_name, Doctor.given_name, Doctor.id)
    ).all()


def accepting_ids(session: Session, principal: Principal, territory_id: int, today: date) -> set[int]:
    """The volunteers of a CPTS that can take a new patient today (the doctors' own rule)."""
    return set(
        session.scalars(
            select(Doctor.id).where(
                visible(Doctor, principal), Doctor.territory_id == territory_id, accepting_clause(today)
            )
        )
    )


def open_requests_by_commune(
    session: Session, principal: Principal, territory_id: int
) -> Sequence[tuple[str, datetime]]:
    """(INSEE code, received at) of each open médecin-traitant request of the CPTS: no person."""
    return session.execute(
        select(PatientRequest.insee_code, PatientRequest.created_at).where(
            visible(PatientRequest, principal),
            PatientRequest.territory_id == territory_id,
            PatientRequest.status.in_([s.value for s in OPEN_STATUSES]),
        )
    ).all()


def free_slots_by_commune(
    session: Session, principal: Principal, territory_id: int, start: datetime, end: datetime
) -> dict[str, int]:
    """INSEE code → the free unscheduled-care slots starting in [start, end) there."""
    commune = func.coalesce(PracticeLocation.insee_code, Centre.insee_code)
    rows = session.execute(
        select(commune, func.count(Slot.id))
        .select_from(Slot)
        .outerjoin(PracticeLocation, PracticeLocation.id == Slot.location_id)
        .outerjoin(Centre, Centre.id == Slot.centre_id)
        .where(
            visible(Slot, principal),
            Slot.territory_id == territory_id,
            Slot.status == SlotStatus.FREE.value,
            Slot.start_at >= start,
            Slot.start_at < end,
        )
        .group_by(commune)
    ).all()
    return {code: count for code, count in rows if code}


def latest_invitations(session: Session, principal: Principal, territory_id: int) -> dict[str, DoctorInvitation]:
    """RPPS → the latest invitation sent to it in this CPTS."""
    found: dict[str, DoctorInvitation] = {}
    for invitation in session.scalars(
        select(DoctorInvitation)
        .where(visible(DoctorInvitation, principal), DoctorInvitation.territory_id == territory_id)
        .order_by(DoctorInvitation.created_at, DoctorInvitation.id)
    ):
        found[invitation.rpps] = invitation
    return found


def invitations(session: Session, principal: Principal, ids: Sequence[int]) -> Sequence[DoctorInvitation]:
    return session.scalars(
        select(DoctorInvitation)
        .where(visible(DoctorInvitation, principal), DoctorInvitation.id.in_(list(ids)))
        .order_by(DoctorInvitation.id)
    ).all()


def applications(
    session: Session, principal: Principal, territory_id: int, status: str | None
) -> Sequence[VolunteerApplication]:
    query = select(VolunteerApplication).where(
        visible(VolunteerApplication, principal), VolunteerApplication.territory_id == territory_id
    )
    if status:
        query = query.where(VolunteerApplication.status == status)
    return session.scalars(query.order_by(VolunteerApplication.created_at.desc(), VolunteerApplication.id.desc())).all()


def application(session: Session, principal: Principal, application_id: int) -> VolunteerApplication | None:
    return session.scalars(
        select(VolunteerApplication).where(
            visible(VolunteerApplication, principal), VolunteerApplication.id == application_id
        )
    ).one_or_none()


def last_reminders(session: Session, principal: Principal, doctor_ids: Sequence[int]) -> dict[int, datetime]:
    """Doctor id → when its last six-monthly reminder was written to the outbox (reminders.py)."""
    if not doctor_ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.doctor_id, func.max(OutboxMessage.created_at))
        .where(
            visible(OutboxMessage, principal),
            OutboxMessage.kind == "doctor_reminder",
            OutboxMessage.doctor_id.in_(list(doctor_ids)),
        )
        .group_by(OutboxMessage.doctor_id)
    ).all()
    return {doctor_id: at for doctor_id, at in rows if doctor_id is not None}


# ---- The public sign-up page: no caller, its own reasons -------------------------------------


def invitation_unscoped(session: Session, invitation_id: int) -> DoctorInvitation | None:
    """The invitation a signed link names (the link is the proof)."""
    return session.get(DoctorInvitation, invitation_id)


def directory_entry_unscoped(session: Session, territory_id: int, rpps: str) -> DirectoryPractitioner | None:
    """Whether this CPTS's directory lists the RPPS a doctor signs up with (a public fact: the
    national directory is open data)."""
    return session.scalars(
        select(DirectoryPractitioner).where(
            DirectoryPractitioner.territory_id == territory_id, DirectoryPractitioner.rpps == rpps
        )
    ).one_or_none()


def rpps_taken_unscoped(session: Session, rpps: str) -> str | None:
    """Why this RPPS cannot sign up again: "doctor" (already a volunteer of the deployment),
    "pending" (a sign-up waits for a decision), or None."""
    if session.scalars(select(Doctor.id).where(Doctor.rpps == rpps)).first() is not None:
        return "doctor"
    pending = select(VolunteerApplication.id).where(
        VolunteerApplication.rpps == rpps, VolunteerApplication.status == ApplicationStatus.PENDING.value
    )
    return "pending" if session.scalars(pending).first() is not None else None

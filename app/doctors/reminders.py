"""The six-monthly reminder: an e-mail with the doctor's confirmation link, through the outbox."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.audit.service import record
from app.core.database import utcnow
from app.core.identifiers import french_phone
from app.core.settings import Settings
from app.doctors.links import make_link
from app.doctors.models import STALE_AFTER, Doctor
from app.doctors.service import get_doctor, territory_for
from app.notifications.outbox import enqueue
from app.notifications.templates import render


def _enqueue_reminder(session: Session, settings: Settings, base_url: str, doctor: Doctor) -> None:
    link, _ = make_link(settings, base_url, doctor)
    subject, body = render(
        "doctor_reminder",
        "email",
        family_name=doctor.family_name,
        territory=doctor.territory.name,
        territory_phone=french_phone(doctor.territory.phone),
        link=link,
        days=settings.confirmation_link_days,
    )
    enqueue(
        session,
        kind="doctor_reminder",
        channel="email",
        recipient=doctor.email,
        subject=subject,
        body=body,
        territory_id=doctor.territory_id,
        doctor_id=doctor.id,
    )


def remind_one(session: Session, settings: Settings, base_url: str, principal: Principal, doctor_id: int) -> Doctor:
    doctor = get_doctor(session, principal, doctor_id)
    _enqueue_reminder(session, settings, base_url, doctor)
    record(session, principal, "doctor.remind", "doctor", doctor.id, doctor.territory_id)
    return doctor


def remind_stale(session: Session, settings: Settings, base_url: str, principal: Principal, cpts: str) -> int:
    """Every active doctor of the CPTS not confirmed for six months. Returns how many."""
    territory = territory_for(session, principal, cpts)
    stale = session.scalars(
        select(Doctor).where(
            visible(Doctor, principal),
            Doctor.territory_id == territory.id,
            Doctor.active.is_(True),
            Doctor.confirmed_at < utcnow() - STALE_AFTER,
        )
    ).all()
    for doctor in stale:
        _enqueue_reminder(session, settings, base_url, doctor)
        record(session, principal, "doctor.remind", "doctor", doctor.id, territory.id)
    return len(stale)

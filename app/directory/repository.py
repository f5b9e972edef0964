"""The directory's queries, scoped to the caller's CPTS (app.accounts.access)."""

from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.core.database import execute_dml
from app.directory.models import DirectoryImport, DirectoryPractice, DirectoryPractitioner
from app.doctors.models import Doctor
from app.doctors.repository import doctors_only

CHUNK = 500  # values in one IN (…): well under SQLite's and PostgreSQL's limits


def _chunks(values: Iterable[str | int]) -> Iterable[list]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def rpps_in_territory(session: Session, principal: Principal, territory_id: int) -> dict[str, int]:
    """RPPS → id of every directory practitioner of this CPTS."""
    rows = session.execute(
        select(DirectoryPractitioner.rpps, DirectoryPractitioner.id).where(
            visible(DirectoryPractitioner, principal), DirectoryPractitioner.territory_id == territory_id
        )
    )
    return {rpps: id_ for rpps, id_ in rows}


def practitioners_by_rpps(
    session: Session, principal: Principal, territory_id: int, rpps: list[str]
) -> dict[str, DirectoryPractitioner]:
    found: dict[str, DirectoryPractitioner] = {}
    for chunk in _chunks(rpps):
        found.update(
            (p.rpps, p)
            for p in session.scalars(
                select(DirectoryPractitioner).where(
                    visible(DirectoryPractitioner, principal),
                    DirectoryPractitioner.territory_id == territory_id,
                    DirectoryPractitioner.rpps.in_(chunk),
                )
            )
        )
    return found


def remove_practitioners(session: Session, ids: list[int]) -> None:
    """Removes these practitioners and their practices (ids read through visibility)."""
    for chunk in _chunks(ids):
        execute_dml(session, delete(DirectoryPractice).where(DirectoryPractice.practitioner_id.in_(chunk)))
        execute_dml(session, delete(DirectoryPractitioner).where(DirectoryPractitioner.id.in_(chunk)))


def volunteer_count(session: Session, principal: Principal, territory_id: int, rpps: Iterable[str]) -> int:
    """How many of these RPPS are volunteer doctors of the CPTS (matched on the RPPS, for display)."""
    total = 0
    for chunk in _chunks(rpps):
        total += (
            session.scalar(
                select(func.count(Doctor.id)).where(
                    visible(Doctor, principal),
                    doctors_only(),
                    Doctor.territory_id == territory_id,
                    Doctor.rpps.in_(chunk),
                )
            )
            or 0
        )
    return total


def get_import(session: Session, principal: Principal, import_id: int) -> DirectoryImport:
    """An import this very run wrote (so it exists, and the caller may see it)."""
    return session.scalars(
        select(DirectoryImport).where(visible(DirectoryImport, principal), DirectoryImport.id == import_id)
    ).one()


def recent_imports(session: Session, principal: Principal, territory_id: int, limit: int) -> list[DirectoryImport]:
    return list(
        session.scalars(
            select(DirectoryImport)
            .where(visible(DirectoryImport, principal), DirectoryImport.territory_id == territory_id)
            .order_by(DirectoryImport.id.desc())
            .limit(limit)
        )
    )


def practitioner_count(session: Session, principal: Principal, territory_id: int) -> int:
    return (
        session.scalar(
            select(func.count(DirectoryPractitioner.id)).where(
                visible(DirectoryPractitioner, principal), DirectoryPractitioner.territory_id == territory_id
            )
        )
        or 0
    )


def practitioners_of(session: Session, principal: Principal, territory_id: int) -> list[DirectoryPractitioner]:
    """The CPTS's directory GPs with their practices, by name."""
    return list(
        session.scalars(
            select(DirectoryPractitioner)
            .where(visible(DirectoryPractitioner, principal), DirectoryPractitioner.territory_id == territory_id)
            .order_by(DirectoryPractitioner.family_name, DirectoryPractitioner.given_name, DirectoryPractitioner.rpps)
        )
    )


def volunteer_ids_by_rpps(session: Session, principal: Principal, territory_id: int) -> dict[str, int]:
    """RPPS → id of the CPTS's volunteer doctors."""
    rows = session.execute(
        select(Doctor.rpps, Doctor.id).where(
            visible(Doctor, principal), doctors_only(), Doctor.territory_id == territory_id
        )
    )
    return {rpps: id_ for rpps, id_ in rows}

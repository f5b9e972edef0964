"""Every read of a CPTS's data goes through app.accounts.access.

While the isolation walk (tests/test_isolation.py: every endpoint × role × own/other CPTS)
runs, a SQLAlchemy hook looks at each SELECT the sessions run: one that reads a CPTS-owned
table must carry a visibility clause (`visible(...)`, `scoped(...)`, `sas_visible_clause()`),
or come from a function of the allow-list below, each with its reason. Relationship and
column loads are let through: they start from an object already read through visibility.

Core statements on a bare connection (the SAS feed's search, the outbox worker) do not pass
through a session and are out of this guard's sight."""

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Table, event, select
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.util import find_tables
from sqlalchemy.sql.visitors import iterate

from app.accounts.access import Visibility, visible
from app.accounts.models import Role
from app.accounts.principal import Principal
from app.doctors.models import Doctor
from tests import test_isolation as isolation
from tests.test_isolation import world  # noqa: F401  (the fixture, shared)

APP = Path(__file__).resolve().parent.parent / "app"

# Tables whose rows belong to one CPTS.
CPTS_OWNED = {
    "doctors",
    "patient_requests",
    "sources",
    "snp_centres",
    "snp_patterns",
    "snp_slots",
    "snp_bookings",
    "audit_events",
}

# The reads that are legitimately not scoped to the caller: "module.function" → why.
ALLOWED = {
    # Whoever submits (the public questionnaire has no account), a patient's request is checked
    # against the CPTS's open requests before anyone may see it.
    "app.requests.service.submit_request": "the intake's duplicate check",
    # An RPPS is one doctor in the whole deployment, whatever CPTS it works in.
    "app.doctors.service.create_doctor": "an RPPS registered once in the deployment",
    "app.doctors.importer._existing": "an RPPS registered once in the deployment",
    # Reads that derive from an object the caller was given through visibility.
    "app.requests.messages._doctors": "the doctors of the request's CPTS (the request read through visibility)",
    "app.snp.service._overlapping": "a doctor's (or centre's) own slots; the owner resolved through visibility",
    "app.snp.service._remove_free_future_slots": "the slots of a pattern read through visibility",
    "app.snp.repository.slot_view": "a slot whose id was just read through visibility",
    "app.snp.repository.live_bookings_by_slot": "the bookings of a list of slots read through visibility",
    "app.web.snp_pages.board": "the bookings of the slots the board read through visibility",
    # A CPTS's figures, once territory_for checked that the caller works in it.
    "app.snp.repository.indicators": "the CPTS checked by the reporting service (territory_for)",
}


@dataclass
class Guard:
    violations: list[str] = field(default_factory=list)
    reads: int = 0


def _caller() -> str:
    """The innermost function of the app that ran the statement, outside the visibility module."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(str(APP)) and not filename.endswith("accounts/access.py"):
            module = frame.f_globals.get("__name__", "?")
            return f"{module}.{frame.f_code.co_name}"
        frame = frame.f_back
    return "tests"


def _check(guard: Guard, state: ORMExecuteState) -> None:
    if not state.is_select or state.is_relationship_load or state.is_column_load:
        return
    statement = state.statement
    tables = {
        t.name
        for t in find_tables(statement, check_columns=True, include_aliases=True, include_joins=True)
        if isinstance(t, Table)
    } & CPTS_OWNED
    if not tables:
        return
    guard.reads += 1
    if any(isinstance(element, Visibility) for element in iterate(statement)):
        return
    caller = _caller()
    if caller not in ALLOWED:
        guard.violations.append(f"{caller} reads {', '.join(sorted(tables))} without app.accounts.access")


@pytest.fixture
def guard() -> Iterator[Guard]:
    found = Guard()

    def listener(state: ORMExecuteState) -> None:
        _check(found, state)

    event.listen(Session, "do_orm_execute", listener)
    try:
        yield found
    finally:
        event.remove(Session, "do_orm_execute", listener)


def test_the_guard_catches_an_unscoped_select(db, guard):
    """The guard fails on a select of a CPTS-owned model without visibility, not with it."""
    coordinator = Principal(1, "c@example.fr", Role.COORDINATOR, frozenset({1}), None, None)
    db.scalars(select(Doctor).where(visible(Doctor, coordinator))).all()
    db.scalars(select(Doctor.id).where(Doctor.id.in_(select(Doctor.id).where(visible(Doctor, coordinator))))).all()
    assert guard.violations == []
    db.scalars(select(Doctor).where(Doctor.id == 1)).all()
    db.get(Doctor, 1)
    assert len(guard.violations) == 2
    assert all("doctors" in v for v in guard.violations)


@pytest.mark.parametrize("role", isolation.ROLES)
def test_every_endpoint_reads_through_visibility(client, world, role, guard):  # noqa: F811
    isolation.test_every_endpoint_answers_each_role_as_the_table_says(client, world, role)
    assert guard.violations == []
    if role not in ("anonymous", "regulator"):  # those two are refused before any read
        assert guard.reads > 0  # the hook saw the app's reads

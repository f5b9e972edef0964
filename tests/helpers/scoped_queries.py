"""A guard over the reads of a CPTS's data: every one goes through app.accounts.access.

While active (tests/test_isolation.py's walk of every endpoint × role × own/other CPTS), a
SQLAlchemy hook looks at each SELECT the sessions run: one that reads a CPTS-owned table must
carry a visibility clause (`visible(...)`, `scoped(...)`, `sas_visible_clause()`), or come from
a function of the allow-list below, each with its reason. Relationship and column loads are let
through: they start from an object already read through visibility.

Core statements on a bare connection (the SAS feed's search, the outbox worker) do not pass
through a session and are out of this guard's sight."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Table, event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.util import find_tables
from sqlalchemy.sql.visitors import iterate

from app.accounts.access import Visibility

APP = Path(__file__).resolve().parent.parent.parent / "app"

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
    "doctor_offers",
    "directory_practitioners",
    "doctor_invitations",
    "volunteer_applications",
    "directory_imports",
    "snp_walk_ins",
    "phone_calls",
}

# The reads that are legitimately not scoped to the caller: "module.function" → why.
ALLOWED = {
    # Whoever submits (the public questionnaire has no account), a patient's request is checked
    # against the CPTS's open requests before anyone may see it.
    "app.requests.service.submit_request": "the intake's duplicate check",
    "app.requests.repository.serving_and_open_requests": "the intake's duplicate check (of submit_request)",
    # The flyer named by the form's tag (public), or the submitting professional's own organisation.
    "app.requests.repository.source_by_tag": "a flyer's tag is public: the questionnaire it opens names it",
    "app.requests.repository.organisation_of": "the submitting professional's own organisation, named by its account",
    # An RPPS is one doctor in the whole deployment, whatever CPTS it works in.
    "app.doctors.service.create_doctor": "an RPPS registered once in the deployment",
    "app.doctors.importer._existing": "an RPPS registered once in the deployment",
    # Reads that derive from an object the caller was given through visibility.
    "app.requests.messages._doctors": "the doctors of the request's CPTS (the request read through visibility)",
    "app.snp.service._overlapping": "a doctor's (or centre's) own slots; the owner resolved through visibility",
    "app.snp.service._remove_free_future_slots": "the slots of a pattern read through visibility",
    "app.snp.repository.slot_view": "a slot whose id was just read through visibility",
    "app.snp.repository.free_slot_ids": "slots read through visibility on the replica, confirmed on the primary",
    "app.snp.repository.live_bookings_by_slot": "the bookings of a list of slots read through visibility",
    "app.snp.repository.live_bookings_of_slots": "the bookings of the slots the board read through visibility",
    # Reads the caller proves its right to another way.
    "app.doctors.repository.get_unscoped": "a doctor named by its signed link, or read by the SAS platform",
    "app.doctors.repository.by_rpps_unscoped": "the doctor whose RPPS Pro Santé Connect vouched for, signing in",
    # An offer named by its signed link (the doctor's proof), and what its answer settles.
    "app.requests.repository.offer_unscoped": "an offer named by its signed link",
    "app.requests.repository.request_unscoped": "the request of an offer its signed link named, just accepted",
    "app.requests.repository.other_pending_offers": "the other offers of a request the caller just settled",
    "app.requests.repository.lapsed_offers": "the worker's step, for every CPTS (app/notifications/outbox.py)",
    # The public volunteer sign-up page (app/web/volunteer_signup.py): no caller to scope to.
    "app.recruitment.repository.invitation_unscoped": "an invitation named by its signed link",
    "app.recruitment.repository.directory_entry_unscoped": "whether a CPTS's directory (open data) lists an RPPS",
    "app.recruitment.repository.rpps_taken_unscoped": "an RPPS signs up once in the deployment",
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


@contextmanager
def scoped_reads_guard() -> Iterator[Guard]:
    """Watches every session's SELECTs while active; the violations are in the Guard it yields."""
    found = Guard()

    def listener(state: ORMExecuteState) -> None:
        _check(found, state)

    event.listen(Session, "do_orm_execute", listener)
    try:
        yield found
    finally:
        event.remove(Session, "do_orm_execute", listener)

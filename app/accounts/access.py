"""Which rows may this caller see: the one place that decides it.

Every query of data that belongs to a CPTS (doctors, requests, slots, patterns, bookings,
centres, sources, the audit trail, accounts) adds ``visible(Model, principal)`` to its WHERE
clause, so that a coordinator of CPTS A asking for an object of CPTS B finds nothing (404),
not a refusal (403) that would confirm it exists. What each role may *do* is
``app.accounts.policy``."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, false, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.visitors import InternalTraversal

from app.accounts.models import Membership, Role, User
from app.accounts.principal import Principal
from app.audit.models import AuditEvent
from app.calls.models import PhoneCall
from app.directory.models import DirectoryImport, DirectoryPractitioner
from app.doctors.models import Doctor
from app.notifications.models import OutboxMessage
from app.recruitment.models import DoctorInvitation, VolunteerApplication
from app.requests.models import DoctorOffer, PatientRequest, Source
from app.snp.models import Booking, Centre, Slot, SlotPattern, WalkIn
from app.territories.models import Territory

RoleRule = Callable[[Principal], ColumnElement[bool]]
TerritoryRule = Callable[[frozenset[int]], ColumnElement[bool]]


class Visibility(ColumnElement[bool]):
    """A visibility clause, recognisable in a statement: it compiles to its clause alone, and
    tells a reader of the statement (the tests' guard against unscoped selects,
    tests/test_scoped_queries.py) that the query went through this module."""

    __visit_name__ = "visibility"
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement), ("scope", InternalTraversal.dp_string)]

    def __init__(self, clause: ColumnElement[bool], scope: str) -> None:
        self.clause, self.scope = clause, scope


@compiles(Visibility)
def _compile_visibility(element: Visibility, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(Grouping(element.clause), **kw)


@dataclass(frozen=True)
class ScopeRule:
    # "Belongs to one of these CPTS": its CPTS column (`in_column`), or for an account of
    # several CPTS, a clause on its memberships.
    within: TerritoryRule
    # Roles beyond admin and coordinator see only what these clauses allow; a role absent
    # here sees nothing of the model.
    own: dict[Role, RoleRule] = field(default_factory=dict)
    coordinators: bool = True
    # Roles that see the objects of their CPTS as its coordinators do (the secretariat: the
    # slots, bookings and centres it books for callers).
    as_coordinators: frozenset[Role] = frozenset()
    # The roles of `own` that see their objects whatever CPTS they belong to (the others:
    # only inside the CPTS they belong to).
    anywhere: frozenset[Role] = frozenset()

    def in_territories(self, territory_ids: frozenset[int]) -> ColumnElement[bool]:
        return self.within(territory_ids) if territory_ids else false()


def in_column(column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]) -> TerritoryRule:
    """The rule of an object whose CPTS is this column (a request out of every territory has none)."""
    return lambda territory_ids: column.in_(territory_ids)


def sas_visible_clause() -> ColumnElement[bool]:
    """What the SAS regulation sees, whatever CPTS a slot belongs to: the slots served to the
    SAS (app.snp.rules.served_to_sas, stored in Slot.sas_visible). The SAS platform's feed
    (no account) and the regulators' accounts read slots through it."""
    return Visibility(Slot.sas_visible.is_(True), "sas")


def _everything(_: Principal) -> ColumnElement[bool]:
    return true()


SECRETARIAT = frozenset({Role.SECRETARIAT})

RULES: dict[type, ScopeRule] = {
    Doctor: ScopeRule(
        within=in_column(Doctor.territory_id),
        own={Role.DOCTOR: lambda p: Doctor.id == p.doctor_id if p.doctor_id else false()},
    ),
    # A professional sees the requests it submitted; nobody else but the CPTS's coordinators…
    # …even when the patient turned out to live in another CPTS than the professional's.
    PatientRequest: ScopeRule(
        within=in_column(PatientRequest.territory_id),
        own={
            Role.PROFESSIONAL: lambda p: PatientRequest.submitted_by_user_id == p.user_id,
            Role.CPAM: lambda p: PatientRequest.submitted_by_user_id == p.user_id,
        },
        anywhere=frozenset({Role.PROFESSIONAL, Role.CPAM}),
    ),
    # A doctor sees and manages its own slots and patterns, and the bookings made on them; the
    # SAS regulation sees the slots served to the SAS, whatever their CPTS.
    Slot: ScopeRule(
        within=in_column(Slot.territory_id),
        own={
            Role.DOCTOR: lambda p: Slot.doctor_id == p.doctor_id if p.doctor_id else false(),
            Role.REGULATOR: lambda p: sas_visible_clause(),
        },
        anywhere=frozenset({Role.REGULATOR}),
        as_coordinators=SECRETARIAT,
    ),
    SlotPattern: ScopeRule(
        within=in_column(SlotPattern.territory_id),
        own={Role.DOCTOR: lambda p: SlotPattern.doctor_id == p.doctor_id if p.doctor_id else false()},
    ),
    Booking: ScopeRule(
        within=in_column(Booking.territory_id),
        own={
            Role.DOCTOR: lambda p: (
                Booking.slot_id.in_(select(Slot.id).where(Slot.doctor_id == p.doctor_id)) if p.doctor_id else false()
            ),
        },
        as_coordinators=SECRETARIAT,
    ),
    # Offers of patients to doctors: the coordination of the CPTS; a doctor, those made to it.
    DoctorOffer: ScopeRule(
        within=in_column(DoctorOffer.territory_id),
        own={Role.DOCTOR: lambda p: DoctorOffer.doctor_id == p.doctor_id if p.doctor_id else false()},
    ),
    Centre: ScopeRule(within=in_column(Centre.territory_id), as_coordinators=SECRETARIAT),
    # Passages without a booking: the coordination of the CPTS; a doctor, those it saw.
    WalkIn: ScopeRule(
        within=in_column(WalkIn.territory_id),
        own={Role.DOCTOR: lambda p: WalkIn.doctor_id == p.doctor_id if p.doctor_id else false()},
    ),
    # The calls to the coordination's line: counted by the CPTS that took them.
    PhoneCall: ScopeRule(within=in_column(PhoneCall.territory_id), as_coordinators=SECRETARIAT),
    Source: ScopeRule(within=in_column(Source.territory_id)),
    # The audit trail of a CPTS: its coordinators (and the admins) only.
    AuditEvent: ScopeRule(within=in_column(AuditEvent.territory_id)),
    # The CPTS one works in: those one belongs to (an admin: all).
    Territory: ScopeRule(within=in_column(Territory.id), own={role: _everything for role in Role}),
    # Accounts: a coordinator sees those of its CPTS.
    User: ScopeRule(within=lambda ids: User.memberships.any(Membership.territory_id.in_(ids))),
    # Messages to patients and doctors: the coordination of their CPTS (a person's rights).
    OutboxMessage: ScopeRule(within=in_column(OutboxMessage.territory_id)),
    # The national directory's GPs of a CPTS, the invitations sent to them and the volunteers'
    # sign-ups: the coordination of that CPTS (app/recruitment).
    DirectoryPractitioner: ScopeRule(within=in_column(DirectoryPractitioner.territory_id)),
    DoctorInvitation: ScopeRule(within=in_column(DoctorInvitation.territory_id)),
    VolunteerApplication: ScopeRule(within=in_column(VolunteerApplication.territory_id)),
    DirectoryImport: ScopeRule(within=in_column(DirectoryImport.territory_id)),
}


def visible(model: type, principal: Principal) -> ColumnElement[bool]:
    """The WHERE clause of what `principal` may see of `model`."""
    return Visibility(_clause(RULES[model], principal), getattr(model, "__tablename__", model.__name__))


def _clause(rule: ScopeRule, principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.ADMIN:
        return true()
    if (principal.role is Role.COORDINATOR and rule.coordinators) or principal.role in rule.as_coordinators:
        return rule.in_territories(principal.territory_ids)
    own = rule.own.get(principal.role)
    if own is None:
        return false()
    if principal.role in rule.anywhere:
        return own(principal)
    # Even its own objects, a caller sees only inside the CPTS it belongs to.
    return own(principal) & rule.in_territories(principal.territory_ids)


def scoped(model: type, principal: Principal) -> Select:
    return select(model).where(visible(model, principal))


def may_act_in(principal: Principal, territory_id: int) -> bool:
    """May this caller create something in this CPTS?"""
    return principal.role is Role.ADMIN or territory_id in principal.territory_ids

"""Which rows may this caller see: the one place that decides it.

Every query of data that belongs to a CPTS (doctors now; patient requests, slots and
bookings later) adds ``visible(Model, principal)`` to its WHERE clause, so that a
coordinator of CPTS A asking for an object of CPTS B finds nothing (404), not a refusal
(403) that would confirm it exists."""

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import InstrumentedAttribute

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.doctors.models import Doctor
from app.requests.models import PatientRequest
from app.snp.models import Booking, Centre, Slot, SlotPattern

RoleRule = Callable[[Principal], ColumnElement[bool]]


@dataclass(frozen=True)
class ScopeRule:
    # The column naming the object's CPTS (a request out of every territory has none).
    territory: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
    # Roles beyond admin and coordinator see only what these clauses allow; a role absent
    # here sees nothing of the model.
    own: dict[Role, RoleRule] = field(default_factory=dict)
    coordinators: bool = True
    # Whether the roles of `own` see their objects only inside the CPTS they belong to.
    own_within_territories: bool = True


RULES: dict[type, ScopeRule] = {
    Doctor: ScopeRule(
        territory=Doctor.territory_id,
        own={Role.DOCTOR: lambda p: Doctor.id == p.doctor_id if p.doctor_id else false()},
    ),
    # A professional sees the requests it submitted; nobody else but the CPTS's coordinators.
    PatientRequest: ScopeRule(
        territory=PatientRequest.territory_id,
        own={Role.PROFESSIONAL: lambda p: PatientRequest.submitted_by_user_id == p.user_id},
        # …even when the patient turned out to live in another CPTS than the professional's.
        own_within_territories=False,
    ),
    # A doctor sees and manages its own slots and patterns, and the bookings made on them.
    Slot: ScopeRule(
        territory=Slot.territory_id,
        own={Role.DOCTOR: lambda p: Slot.doctor_id == p.doctor_id if p.doctor_id else false()},
    ),
    SlotPattern: ScopeRule(
        territory=SlotPattern.territory_id,
        own={Role.DOCTOR: lambda p: SlotPattern.doctor_id == p.doctor_id if p.doctor_id else false()},
    ),
    Booking: ScopeRule(
        territory=Booking.territory_id,
        own={
            Role.DOCTOR: lambda p: (
                Booking.slot_id.in_(select(Slot.id).where(Slot.doctor_id == p.doctor_id)) if p.doctor_id else false()
            ),
        },
    ),
    Centre: ScopeRule(territory=Centre.territory_id),
}


def visible(model: type, principal: Principal) -> ColumnElement[bool]:
    rule = RULES[model]
    if principal.role is Role.ADMIN:
        return true()
    if principal.role is Role.COORDINATOR and rule.coordinators:
        return rule.territory.in_(principal.territory_ids) if principal.territory_ids else false()
    own = rule.own.get(principal.role)
    if own is None:
        return false()
    if not rule.own_within_territories:
        return own(principal)
    # Even its own objects, a caller sees only inside the CPTS it belongs to.
    in_territories = rule.territory.in_(principal.territory_ids) if principal.territory_ids else false()
    return own(principal) & in_territories


def sas_visible_clause() -> ColumnElement[bool]:
    """What the SAS regulation sees, whatever CPTS a slot belongs to: the slots served to the
    SAS (app.snp.rules.served_to_sas, stored in Slot.sas_visible)."""
    return Slot.sas_visible.is_(True)


def scoped(model: type, principal: Principal) -> Select:
    return select(model).where(visible(model, principal))


def may_act_in(principal: Principal, territory_id: int) -> bool:
    """May this caller create something in this CPTS?"""
    return principal.role is Role.ADMIN or territory_id in principal.territory_ids

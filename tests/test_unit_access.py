"""Which rows a caller may see (app/accounts/access.py's `visible`), called directly on the
demo's rows: per role and per CPTS, for doctors, requests, slots, patterns and centres."""

import pytest
from sqlalchemy import select, update

from app.accounts.access import RULES, may_act_in, visible
from app.accounts.models import Role, User
from app.accounts.principal import Principal
from app.doctors.models import Doctor
from app.requests.models import PatientRequest
from app.snp.models import Centre, Slot, SlotPattern
from app.territories.models import Territory
from tests.helpers.workspace import PROFESSIONAL

pytestmark = pytest.mark.usefixtures("demo_slots")


@pytest.fixture
def cpts(db) -> dict[str, int]:
    return dict(db.execute(select(Territory.slug, Territory.id)).all())


def caller(role: Role, *territory_ids: int, user_id: int | None = None, doctor_id: int | None = None) -> Principal:
    return Principal(user_id, f"{role}@test", role, frozenset(territory_ids), doctor_id, None)


def seen(db, model, principal: Principal) -> set[int]:
    return set(db.scalars(select(model.id).where(visible(model, principal))))


def of_cpts(db, model, territory_id: int) -> set[int]:
    return set(db.scalars(select(model.id).where(model.territory_id == territory_id)))


@pytest.mark.parametrize("model", [Doctor, PatientRequest, Slot, SlotPattern, Centre])
def test_a_coordinator_sees_its_cptss_rows_and_an_admin_all(db, cpts, model):
    arras, provence = cpts["grand-arras"], cpts["provence-sante"]
    everything = set(db.scalars(select(model.id)))
    assert of_cpts(db, model, arras), "the demo has some in the Grand Arras"
    assert seen(db, model, caller(Role.ADMIN)) == everything
    assert seen(db, model, caller(Role.COORDINATOR, arras)) == of_cpts(db, model, arras)
    assert seen(db, model, caller(Role.COORDINATOR, arras, provence)) == everything
    assert seen(db, model, caller(Role.COORDINATOR)) == set()  # a coordinator of no CPTS sees nothing


@pytest.mark.parametrize("model", [m for m in RULES if m not in (Slot, Territory)])
def test_a_regulator_sees_nothing_through_the_scoped_queries(db, cpts, model):
    assert seen(db, model, caller(Role.REGULATOR, *cpts.values())) == set()


def test_a_regulator_sees_the_slots_served_to_the_sas_whatever_their_cpts(db, cpts):
    served = set(db.scalars(select(Slot.id).where(Slot.sas_visible.is_(True))))
    assert served and served != set(db.scalars(select(Slot.id))), "the demo has slots on both sides"
    assert {db.get(Slot, i).territory_id for i in served} == set(cpts.values())
    assert seen(db, Slot, caller(Role.REGULATOR, cpts["grand-arras"])) == served


def test_a_caller_works_in_the_cpts_it_belongs_to_and_an_admin_in_all(db, cpts):
    for role in Role:
        expected = set(cpts.values()) if role is Role.ADMIN else {cpts["grand-arras"]}
        assert seen(db, Territory, caller(role, cpts["grand-arras"])) == expected


def test_a_doctor_sees_its_own_record_and_slots_inside_its_cpts_only(db, cpts):
    arras, provence = cpts["grand-arras"], cpts["provence-sante"]
    own = db.get(
        Doctor,
        db.scalars(
            select(Slot.doctor_id).where(Slot.territory_id == arras, Slot.doctor_id.is_not(None)).order_by(Slot.id)
        ).first(),
    )
    own_slots = set(db.scalars(select(Slot.id).where(Slot.doctor_id == own.id)))
    doctor = caller(Role.DOCTOR, arras, doctor_id=own.id)
    assert seen(db, Doctor, doctor) == {own.id}
    assert seen(db, Slot, doctor) == own_slots
    assert seen(db, SlotPattern, doctor) == set(
        db.scalars(select(SlotPattern.id).where(SlotPattern.doctor_id == own.id))
    )
    assert seen(db, PatientRequest, doctor) == set() and seen(db, Centre, doctor) == set()
    # Its own record, but not a member of that CPTS (any more): nothing.
    assert seen(db, Doctor, caller(Role.DOCTOR, provence, doctor_id=own.id)) == set()
    # A doctor account not linked to a doctor's record sees no doctor at all.
    assert seen(db, Doctor, caller(Role.DOCTOR, arras)) == set()


def test_a_professional_sees_the_requests_it_submitted_even_in_another_cpts(db, cpts):
    arras, provence = cpts["grand-arras"], cpts["provence-sante"]
    pharmacist = db.scalars(select(User.id).where(User.email == PROFESSIONAL)).one()
    in_arras = db.scalars(select(PatientRequest.id).where(PatientRequest.territory_id == arras)).first()
    in_provence = db.scalars(select(PatientRequest.id).where(PatientRequest.territory_id == provence)).first()
    db.execute(
        update(PatientRequest)
        .where(PatientRequest.id.in_([in_arras, in_provence]))
        .values(submitted_by_user_id=pharmacist)
    )
    db.commit()
    professional = caller(Role.PROFESSIONAL, arras, user_id=pharmacist)
    assert seen(db, PatientRequest, professional) == {in_arras, in_provence}
    # Another professional of the same CPTS sees none of them; and no doctor, slot or centre.
    other = caller(Role.PROFESSIONAL, arras, user_id=pharmacist + 1000)
    assert seen(db, PatientRequest, other) == set()
    for model in (Doctor, Slot, Centre):
        assert seen(db, model, professional) == set()


def test_who_may_create_in_a_cpts(cpts):
    arras, provence = cpts["grand-arras"], cpts["provence-sante"]
    assert may_act_in(caller(Role.ADMIN), provence)
    assert may_act_in(caller(Role.COORDINATOR, arras), arras)
    assert not may_act_in(caller(Role.COORDINATOR, arras), provence)

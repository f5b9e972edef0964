"""The guard of tests/helpers/scoped_queries.py (active over tests/test_isolation.py's walk)
fails on a select of a CPTS-owned model without visibility, and not with it."""

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.accounts.access import visible
from app.accounts.models import Role
from app.accounts.principal import Principal
from app.doctors.models import Doctor
from app.snp.models import Slot
from tests.helpers.scoped_queries import ALLOWED, Guard, scoped_reads_guard


@pytest.fixture
def guard() -> Iterator[Guard]:
    with scoped_reads_guard() as found:
        yield found


def _coordinator() -> Principal:
    return Principal(1, "c@example.fr", Role.COORDINATOR, frozenset({1}), None, None)


def test_a_select_through_visibility_passes(db, guard):
    db.scalars(select(Doctor).where(visible(Doctor, _coordinator()))).all()
    db.scalars(select(Doctor.id).where(Doctor.id.in_(select(Doctor.id).where(visible(Doctor, _coordinator()))))).all()
    db.scalars(select(Slot.id).where(visible(Slot, _coordinator()) & (Slot.start_at.is_not(None)))).all()
    assert guard.violations == []
    assert guard.reads == 3


def test_an_unscoped_select_or_get_of_a_cpts_owned_model_fails(db, guard):
    db.scalars(select(Doctor).where(Doctor.id == 1)).all()
    db.get(Doctor, 1)
    db.scalars(select(Slot.id).join(Doctor, Doctor.id == Slot.doctor_id)).all()
    assert len(guard.violations) == 3
    assert all(v.startswith("tests reads ") for v in guard.violations)


def test_the_guard_is_off_outside_its_block(db):
    with scoped_reads_guard() as found:
        pass
    db.scalars(select(Doctor)).all()
    assert found.violations == [] and found.reads == 0


def test_each_allowed_read_says_why():
    assert all(name.startswith("app.") and len(reason) > 10 for name, reason in ALLOWED.items())

"""Who may do what is read in one table (app.accounts.policy): README shows that table, and
no module outside the policy and the visibility rules compares roles by hand."""

import re
from pathlib import Path

import pytest

from app.accounts.models import Role
from app.accounts.policy import (
    PERMISSIONS,
    Action,
    markdown_table,
    may,
    may_book_slot,
    may_change_account,
    may_create_account,
    may_publish_for,
)
from app.accounts.principal import Principal

ROOT = Path(__file__).resolve().parent.parent
# Where a caller's role may still be read: the policy and the visibility rules. (An account's
# own role, `data.role` or `user.role`, is data: an admin belongs to no CPTS, a doctor's account
# names its RPPS.)
ROLE_READERS = {"app/accounts/policy.py", "app/accounts/access.py"}
ROLE_COMPARISON = re.compile(r"\b(?:principal|caller|by)\.role\s*(?:is|==|!=|in|not)\b")


def _principal(role: Role, doctor_id: int | None = None, territories: set[int] = frozenset({1})) -> Principal:
    return Principal(1, "x@example.fr", role, frozenset(territories), doctor_id, None)


def test_the_readme_table_is_the_policy():
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("<!-- policy:begin -->\n", 1)[1].split("\n<!-- policy:end -->", 1)[0]
    assert shown == markdown_table(), "README's table differs: paste markdown_table() between the policy markers"


def test_every_action_has_its_row():
    assert set(PERMISSIONS) == set(Action)
    assert all(PERMISSIONS[a].roles and PERMISSIONS[a].what for a in Action)


def test_no_role_is_compared_outside_the_policy():
    offenders = []
    for path in sorted((ROOT / "app").rglob("*")):
        if path.suffix not in (".py", ".html") or str(path.relative_to(ROOT)) in ROLE_READERS:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ROLE_COMPARISON.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "ask app.accounts.policy (may, ensure, caller.can) instead"


@pytest.mark.parametrize(
    ("role", "origin", "allowed"),
    [
        (Role.REGULATOR, "sas", True),
        (Role.REGULATOR, "cpts", False),
        (Role.COORDINATOR, "sas", False),
        (Role.COORDINATOR, "cpts", True),
        (Role.ADMIN, "cpts", True),
        (Role.DOCTOR, "cpts", False),
        (Role.PROFESSIONAL, "cpts", False),
    ],
)
def test_who_books_from_where(role, origin, allowed):
    assert may_book_slot(_principal(role), origin) is allowed


def test_a_doctor_publishes_its_own_slots_only():
    doctor = _principal(Role.DOCTOR, doctor_id=7)
    assert may_publish_for(doctor, 7)
    assert not may_publish_for(doctor, 8)
    assert not may_publish_for(doctor, None)  # a centre's slots are the coordination's
    assert may_publish_for(_principal(Role.COORDINATOR), 8)
    assert may_publish_for(_principal(Role.COORDINATOR), None)
    assert not may_publish_for(_principal(Role.PROFESSIONAL, doctor_id=7), 7)


def test_a_coordinator_makes_accounts_in_its_cpts_and_never_an_admin():
    coordinator = _principal(Role.COORDINATOR, territories={1, 2})
    assert may_create_account(coordinator, Role.PROFESSIONAL, {1})
    assert may_create_account(coordinator, Role.DOCTOR, {1, 2})
    assert not may_create_account(coordinator, Role.PROFESSIONAL, {1, 3})
    assert not may_create_account(coordinator, Role.ADMIN, set())
    assert not may_create_account(_principal(Role.PROFESSIONAL), Role.PROFESSIONAL, {1})
    assert may_create_account(None, Role.ADMIN, set())  # the operator, at the command line
    assert may_change_account(coordinator, Role.DOCTOR)
    assert not may_change_account(coordinator, Role.ADMIN)
    assert may_change_account(_principal(Role.ADMIN), Role.ADMIN)


def test_the_endpoints_and_pages_ask_the_policy():
    """Every route's role check comes from an action: a regulator may not read the queue, a
    doctor may edit its record, through the table."""
    assert not may(_principal(Role.REGULATOR), Action.HANDLE_REQUESTS)
    assert may(_principal(Role.DOCTOR), Action.EDIT_DOCTOR)
    source = (ROOT / "app").rglob("*.py")
    hand_made = [p for p in source if re.search(r"(require|page_for)\(Role\.", p.read_text())]
    assert hand_made == []

"""SAS regulators' accounts, created and updated by the SAS platform (INT_R02).

A regulator belongs to no CPTS: it books, through the SAS only, the slots the SAS may see.
The platform vouches for the person, so there is no e-mail verification; a new regulator
is sent the invitation link of every new account (app/accounts/links.py) to choose a password."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import links, service
from app.accounts.models import Role, User
from app.audit.service import record
from app.core.settings import Settings
from app.fhir.practitioners import RegulatorData
from app.fhir.profiles import NATIONAL_PS
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.snp.models import RegulatorIdentifier


class RegulatorConflict(Exception):
    """The e-mail belongs to an account that is not this regulator's."""


def find_regulator(session: Session, system: str, value: str) -> User | None:
    return session.scalars(
        select(User)
        .join(RegulatorIdentifier, RegulatorIdentifier.user_id == User.id)
        .where(RegulatorIdentifier.system == system, RegulatorIdentifier.value == value)
    ).first()


def get_regulator(session: Session, user_id: int) -> User | None:
    """A regulator's account by id (the SAS reads the accounts it made): None for another role."""
    user = session.get(User, user_id)
    return user if user is not None and user.role == Role.REGULATOR.value else None


def _same_regulator(session: Session, owner: User, data: RegulatorData, by_identifier: tuple[str, str] | None) -> bool:
    """The account that has the e-mail is this regulator: one the SAS made (a regulator), and
    whose national identifier, if it has one, is not another than the one now sent."""
    if owner.role != Role.REGULATOR.value:
        return False
    sent = {(s, v) for s, v, kind in data.identifiers if kind == "IDNPS"}
    if by_identifier is not None and by_identifier[0] == NATIONAL_PS:
        sent.add(by_identifier)
    national = {
        (i.system, i.value)
        for i in session.scalars(
            select(RegulatorIdentifier).where(
                RegulatorIdentifier.user_id == owner.id, RegulatorIdentifier.kind == "IDNPS"
            )
        )
    }
    return not national or national <= sent


def upsert_regulator(
    session: Session,
    settings: Settings,
    base_url: str,
    data: RegulatorData,
    by_identifier: tuple[str, str] | None = None,
) -> tuple[User, bool]:
    """(account, created). Found by the identifier of a conditional update, else by any of
    the identifiers sent, else by its e-mail when that account is this regulator's (see
    _same_regulator); created when none is known (the guide's idempotent create-or-update)."""
    user: User | None = None
    for system, value in ([by_identifier] if by_identifier else []) + [(s, v) for s, v, _ in data.identifiers]:
        user = find_regulator(session, system, value)
        if user is not None:
            break
    owner = session.scalars(select(User).where(func.lower(User.email) == data.email.lower())).first()
    if user is None and owner is not None and _same_regulator(session, owner, data, by_identifier):
        user = owner  # known under its SAS technical identifier, now given its national one
    if owner is not None and owner is not user:
        raise RegulatorConflict()
    created = user is None
    if user is None:
        user = User(email=data.email.lower(), display_name="", role=Role.REGULATOR.value, password_hash=None)
        session.add(user)
    user.email = data.email.lower()
    user.display_name = f"{' '.join(data.given_names)} {data.family_name}"[:200]
    user.family_name = data.family_name
    user.given_names = "\n".join(data.given_names)[:200]
    user.active = data.active
    session.flush()
    known = {
        (i.system, i.value)
        for i in session.scalars(select(RegulatorIdentifier).where(RegulatorIdentifier.user_id == user.id))
    }
    for system, value, kind in data.identifiers:
        if (system, value) not in known:
            if find_regulator(session, system, value) is not None:
                raise RegulatorConflict()
            session.add(RegulatorIdentifier(user_id=user.id, system=system, value=value, kind=kind))
    record(session, None, "regulator.create" if created else "regulator.update", "user", user.id, None, actor="sas")
    if created and data.active:
        # The invitation link every new account gets (app/accounts/links.py): single-use, expiring.
        link, expires = links.make_link(settings, base_url, user, links.Purpose.INVITATION)
        subject, body = render(
            "regulator_welcome",
            "email",
            given_name=data.given_names[0],
            link=link,
            expires=service.paris_time(expires),
        )
        enqueue(session, kind="regulator_welcome", channel="email", recipient=user.email, subject=subject, body=body)
    return user, created


def regulator_data(session: Session, user: User) -> RegulatorData:
    identifiers = [
        (i.system, i.value, i.kind)
        for i in session.scalars(select(RegulatorIdentifier).where(RegulatorIdentifier.user_id == user.id))
    ]
    if user.family_name and user.given_names:
        return RegulatorData(identifiers, user.family_name, user.given_names.split("\n"), user.email, user.active)
    given, _, family = user.display_name.partition(" ")  # an account from before 0016
    return RegulatorData(identifiers, family, [given], user.email, user.active)

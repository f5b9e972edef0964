"""Accounts: creating users, signing in (with growing delays), sessions and personal API tokens."""

import hashlib
import math
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.accounts import links, second_factor
from app.accounts.access import visible
from app.accounts.models import ApiToken, Membership, PscSpentState, Role, SignInFailures, User, WebSession
from app.accounts.policy import may_change_account, may_create_account, switches_whole_account, works_in_every_cpts
from app.accounts.principal import Principal
from app.accounts.psc import PscIdentity, PscRefused
from app.accounts.regulators import find_regulator
from app.accounts.schemas import AccountFields, Invitation, UserCreate, UserOut, UserUpdate
from app.accounts.security import (
    TOKEN_PREFIX,
    check_password_strength,
    digest,
    hash_password,
    new_secret,
    verify_password,
)
from app.audit.service import record
from app.core.database import commit_early, utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, TooManyRequests, Unauthorized, Unprocessable
from app.core.settings import Settings
from app.doctors import professions
from app.doctors import repository as doctors_repository
from app.doctors.models import Doctor
from app.fhir.profiles import NATIONAL_PS
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.requests.models import Source
from app.territories.models import Territory

PARIS = ZoneInfo("Europe/Paris")


def paris_time(value: datetime) -> str:
    """When a link expires, as the e-mail says it (stored UTC, shown in Europe/Paris)."""
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=Role(user.role),
        active=user.active,
        cpts=sorted(m.territory.slug for m in user.memberships),
        doctor_id=user.doctor_id,
        created_at=user.created_at,
    )


def _organisation(session: Session, tag: str, territories: list[Territory]) -> Source:
    """A professional's organisation: a source of one of its CPTS."""
    organisation = session.scalars(
        select(Source).where(Source.tag == tag, Source.territory_id.in_([t.id for t in territories]))
    ).one_or_none()
    if organisation is None:
        message = f"Organisation : aucune source « {tag} » dans ces CPTS."
        raise Unprocessable(message, fields=[FieldError(field="organisation", message=message)])
    return organisation


def _cpam_source(session: Session, by: Principal | None, tag: str | None, territories: list[Territory]) -> Source:
    """The source a CPAM account's requests are credited to: the one given (a source of kind
    "cpam" of its CPTS), else its CPTS's CPAM source, created the first time."""
    if tag:
        source = _organisation(session, tag, territories)
        if source.kind != "cpam":
            message = "Organisation : un compte CPAM est rattaché à une source de type CPAM."
            raise Unprocessable(message, fields=[FieldError(field="organisation", message=message)])
        return source
    territory = territories[0]
    found = session.scalars(
        select(Source)
        .where(Source.territory_id == territory.id, Source.kind == "cpam", Source.retired_at.is_(None))
        .order_by(Source.id)
        .limit(1)
    ).first()
    if found is not None:
        return found
    source = Source(
        territory_id=territory.id, tag=f"cpam-{secrets.token_hex(3)}", name="Assurance Maladie (CPAM)", kind="cpam"
    )
    session.add(source)
    session.flush()
    record(session, by, "source.create", "source", source.id, territory.id, actor="cli")
    return source


def _organisation_for(
    session: Session, by: Principal | None, role: Role, tag: str | None, territories: list[Territory]
) -> Source | None:
    """What a role's account is credited to: a professional's organisation if given, the CPAM's source."""
    if role is Role.CPAM:
        return _cpam_source(session, by, tag, territories)
    if role is Role.PROFESSIONAL and tag:
        return _organisation(session, tag, territories)
    return None


def _territories(session: Session, slugs: list[str]) -> list[Territory]:
    territories = []
    for slug in slugs:
        territory = session.scalars(select(Territory).where(Territory.slug == slug)).one_or_none()
        if territory is None:
            raise Unprocessable(
                f"Aucune CPTS « {slug} ».", fields=[FieldError(field="cpts", message=f"CPTS inconnue : {slug}.")]
            )
        territories.append(territory)
    return territories


def _doctor(session: Session, rpps: str | None, territories: list[Territory]) -> Doctor:
    """The registry entry a doctor's account manages: a doctor of one of its CPTS."""
    if not rpps:
        raise Unprocessable(
            "RPPS du médecin requis.",
            fields=[FieldError(field="doctor_rpps", message="Requis pour un compte médecin.")],
        )
    doctor = session.scalars(select(Doctor).where(Doctor.rpps == rpps)).one_or_none()
    if doctor is None or doctor.territory_id not in {t.id for t in territories}:
        raise Unprocessable(
            "Aucun médecin de ces CPTS avec ce RPPS.",
            fields=[FieldError(field="doctor_rpps", message="Médecin introuvable dans ces CPTS.")],
        )
    return doctor


def create_user(session: Session, data: UserCreate, by: Principal | None) -> User:
    """`by` is None from the command line (the operator of the deployment)."""
    return _add_user(session, data, by, hash_password(data.password), "user.create")


def _add_user(
    session: Session, data: AccountFields, by: Principal | None, password_hash: str | None, action: str
) -> User:
    territories = _territories(session, data.cpts)
    if data.role is not Role.ADMIN and not territories:
        raise Unprocessable(
            "Un compte appartient à au moins une CPTS.", fields=[FieldError(field="cpts", message="Au moins une CPTS.")]
        )
    # Coordinators add people to their own CPTS, never an admin.
    if not may_create_account(by, data.role, {t.id for t in territories}):
        raise Forbidden("Vous ne pouvez créer de comptes que dans vos CPTS, et pas d'administrateur.")
    doctor = _doctor(session, data.doctor_rpps, territories) if data.role is Role.DOCTOR else None
    email = str(data.email).lower()
    if session.scalars(select(User.id).where(func.lower(User.email) == email)).first() is not None:
        raise Conflict("Un compte existe déjà avec cette adresse e-mail.")
    organisation = _organisation_for(session, by, data.role, data.organisation, territories)
    user = User(
        email=email,
        display_name=data.display_name,
        role=data.role.value,
        password_hash=password_hash,
        doctor_id=doctor.id if doctor else None,
        organisation_id=organisation.id if organisation else None,
        memberships=[Membership(territory_id=t.id) for t in territories],
    )
    session.add(user)
    session.flush()  # the id, for the trail; a rival account with this e-mail is a 409 (core/constraints.py)
    territory_ids: list[int | None] = [t.id for t in territories]
    for territory_id in territory_ids or [None]:
        record(session, by, action, "user", user.id, territory_id, actor="cli")
    return user


def invite_user(session: Session, settings: Settings, base_url: str, data: Invitation, by: Principal) -> User:
    """A new account without a password: its owner is e-mailed a link to choose one (through
    the outbox, in this transaction)."""
    user = _add_user(session, data, by, None, "user.invite")
    _send_invitation(session, settings, base_url, user)
    return user


def _send_invitation(session: Session, settings: Settings, base_url: str, user: User) -> None:
    link, expires = links.make_link(settings, base_url, user, links.Purpose.INVITATION)
    cpts = ", ".join(sorted(m.territory.name for m in user.memberships)) or "Orientation"
    subject, body = render(
        "account_invitation",
        "email",
        display_name=user.display_name,
        cpts=cpts,
        link=link,
        expires=paris_time(expires),
    )
    enqueue(session, kind="account_invitation", channel="email", recipient=user.email, subject=subject, body=body)


def managed_user(session: Session, principal: Principal, user_id: int) -> User:
    """An account the caller manages: one of its CPTS (access.visible), never an admin's for a
    coordinator; 404 otherwise (it must not learn that the account exists)."""
    user = session.scalars(select(User).where(User.id == user_id, visible(User, principal))).one_or_none()
    if user is None or not may_change_account(principal, Role(user.role)):
        raise NotFound("Compte introuvable.")
    return user


def resend_invitation(session: Session, settings: Settings, base_url: str, principal: Principal, user_id: int) -> User:
    user = managed_user(session, principal, user_id)
    if user.password_hash is not None:
        raise Conflict("Ce compte a déjà choisi son mot de passe : il peut utiliser « Mot de passe oublié ».")
    if not user.active:
        raise Conflict("Réactivez d'abord ce compte.")
    _send_invitation(session, settings, base_url, user)
    _record_for(session, principal, "user.invite", user)
    return user


def update_user(session: Session, principal: Principal, user_id: int, data: UserUpdate) -> User:
    """Name, role, and what the role needs (a doctor's registry entry, a professional's
    organisation). A coordinator never makes an admin nor changes one."""
    user = managed_user(session, principal, user_id)
    territories = [m.territory for m in user.memberships]
    if not may_create_account(principal, data.role, {t.id for t in territories}):
        raise Forbidden("Vous ne pouvez pas donner ce rôle.")
    if user.id == principal.user_id and data.role is not Role(user.role):
        raise Conflict("Vous ne pouvez pas changer votre propre rôle.")
    doctor_id = None
    if data.role is Role.DOCTOR:  # its registry entry as before, unless another RPPS is given
        keep = not data.doctor_rpps and user.doctor_id is not None
        doctor_id = user.doctor_id if keep else _doctor(session, data.doctor_rpps, territories).id
    organisation = _organisation_for(session, principal, data.role, data.organisation, territories)
    organisation_id = organisation.id if organisation else None
    user.display_name, user.role = data.display_name, data.role.value
    user.doctor_id, user.organisation_id = doctor_id, organisation_id
    _record_for(session, principal, "user.update", user)
    return user


def reset_second_factor(session: Session, principal: Principal, user_id: int) -> User:
    """A lost phone and recovery codes: the account's second factor is removed and its sessions
    end; it enrols again at its next sign-in when the second factor is required."""
    user = managed_user(session, principal, user_id)
    if user.id == principal.user_id:
        raise Conflict("Vous ne pouvez pas retirer votre propre second facteur.")
    second_factor.remove(session, user)
    end_sessions(session, user.id)
    _record_for(session, principal, "user.second_factor_reset", user)
    return user


def _record_for(session: Session, principal: Principal, action: str, user: User) -> None:
    """One trail row per CPTS of the account the caller shares (an admin: all of them)."""
    shared = user.territory_ids if works_in_every_cpts(principal) else user.territory_ids & principal.territory_ids
    territory_ids: list[int | None] = [*sorted(shared)] or [None]
    for territory_id in territory_ids:
        record(session, principal, action, "user", user.id, territory_id)


def list_users(session: Session, principal: Principal) -> Sequence[User]:
    return session.scalars(select(User).where(visible(User, principal)).order_by(User.email)).all()


def coordinators_of(session: Session, territory_id: int) -> list[str]:
    """The e-mail addresses of a CPTS's active coordinators (the weekly digest's recipients)."""
    return list(
        session.scalars(
            select(User.email)
            .where(
                User.role == Role.COORDINATOR.value,
                User.active.is_(True),
                User.memberships.any(Membership.territory_id == territory_id),
            )
            .order_by(User.email)
        )
    )


def set_user_active(session: Session, principal: Principal, user_id: int, active: bool) -> User:
    """An admin switches the whole account. A coordinator decides for its own CPTS only: an
    account that belongs to another CPTS too leaves the coordinator's CPTS (its memberships
    there are removed) and stays active elsewhere; an account of the coordinator's CPTS alone
    is switched off (and can be switched on again). Nobody deactivates its own account."""
    user = next((u for u in list_users(session, principal) if u.id == user_id), None)
    if user is None:
        raise NotFound("Compte introuvable.")
    if not may_change_account(principal, Role(user.role)):
        raise NotFound("Compte introuvable.")
    if not active and user.id == principal.user_id:
        raise Conflict("Vous ne pouvez pas désactiver votre propre compte.")
    action = "user.activate" if active else "user.deactivate"
    if not active and not switches_whole_account(principal, user.territory_ids):
        leaving = [m for m in user.memberships if m.territory_id in principal.territory_ids]
        for membership in leaving:
            user.memberships.remove(membership)
            record(session, principal, action, "user", user.id, membership.territory_id)
        return user
    user.active = active
    # Retention counts inactivity from a reactivation too, and erasure from a deactivation.
    if active:
        user.last_active_at, user.deactivated_at = utcnow(), None
    else:
        user.deactivated_at = utcnow()
        end_sessions(session, user.id)  # its open browser stops working at once
    territory_ids: list[int | None] = [*sorted(user.territory_ids & principal.territory_ids)] or [None]
    for territory_id in territory_ids:
        record(session, principal, action, "user", user.id, territory_id)
    return user


def sign_in_delay(settings: Settings, failures: int) -> timedelta:
    """How long after the last failure the next try waits: nothing for the first
    MAX_FAILED_LOGINS failures, then 1, 2, 4… seconds, at most LOGIN_DELAY_MAX_SECONDS."""
    if failures < settings.max_failed_logins:
        return timedelta(0)
    doublings = min(failures - settings.max_failed_logins, 30)
    return timedelta(seconds=min(2**doublings, settings.login_delay_max_seconds))


def authenticate(session: Session, settings: Settings, email: str, password: str, now: datetime) -> User:
    """The account with this e-mail and password, or 401; an e-mail with failures in a row
    waits a short, growing delay between tries (429 with Retry-After).

    An unknown e-mail gets the same answers, delays included, after checking the password
    against a dummy hash (as long): nothing tells whether an account exists. The delay
    belongs to the e-mail, not to an address, so the right password is never refused for
    longer than it, wherever the failures came from; the per-address limit is the LOGIN rate
    limit (app/core/ratelimit.py)."""
    email = email.strip().lower()
    key = hashlib.sha256(email.encode()).hexdigest()
    failures, forgotten = _wait_between_failures(
        session, settings, key, now, "Trop de tentatives avec cette adresse e-mail : réessayez dans {seconds} s."
    )
    user = session.scalars(select(User).where(func.lower(User.email) == email)).one_or_none()
    # Checked even without an account, against a dummy hash: the answer takes as long either way.
    password_ok = verify_password(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.active:
        _count_failure(session, key, forgotten, now, why="a failed sign-in counts although the answer is a 401")
        raise Unauthorized("Adresse e-mail ou mot de passe incorrect.")
    if failures is not None:
        session.execute(delete(SignInFailures).where(SignInFailures.email_digest == key))
    user.last_active_at = now  # committed with the session opened next; retention reads it
    return user


def _wait_between_failures(
    session: Session, settings: Settings, key: str, now: datetime, message: str
) -> tuple[SignInFailures | None, bool]:
    """(the failures in a row under `key`, whether they are old enough to be forgotten); 429
    with Retry-After while the delay after the last one runs (`message` names its seconds)."""
    failures = session.get(SignInFailures, key)
    forgotten = failures is not None and failures.last_failure_at < now - timedelta(
        minutes=settings.login_failures_kept_minutes
    )
    if failures is not None and not forgotten:
        retry_at = failures.last_failure_at + sign_in_delay(settings, failures.failures)
        if retry_at > now:
            seconds = math.ceil((retry_at - now).total_seconds())
            raise TooManyRequests(message.format(seconds=seconds), headers={"Retry-After": str(seconds)})
    return failures, forgotten


def _count_failure(session: Session, key: str, forgotten: bool, now: datetime, why: str) -> None:
    # One atomic statement: concurrent failures all count.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(SignInFailures)
        .values(email_digest=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=["email_digest"],
            set_={"failures": 1 if forgotten else SignInFailures.failures + 1, "last_failure_at": now},
        )
    )
    commit_early(session, why=why)


def give_second_factor(
    session: Session, settings: Settings, principal: Principal, code: str, now: datetime
) -> str | None:
    """How the code was accepted ("totp", "recovery"), or None when wrong. Wrong codes in a
    row wait as failed sign-ins do (MAX_FAILED_LOGINS, then 1, 2, 4… seconds), counted for
    the account whatever the browser: six digits are not guessed by trying."""
    user = current_user(session, principal)
    key = hashlib.sha256(f"second-factor:{user.id}".encode()).hexdigest()
    failures, forgotten = _wait_between_failures(
        session, settings, key, now, "Trop de codes incorrects : réessayez dans {seconds} s."
    )
    how = second_factor.verify(session, user, code)
    if how is None:
        _count_failure(
            session, key, forgotten, now, why="a wrong second-factor code counts although the page refuses it"
        )
        return None
    if failures is not None:
        session.execute(delete(SignInFailures).where(SignInFailures.email_digest == key))
    return how


PSC_UNKNOWN = (
    "Votre identité Pro Santé Connect ne correspond à aucun compte de l'espace : demandez à la coordination "
    "de votre CPTS de vous ouvrir un accès."
)
PSC_INACTIVE = "Ce compte est désactivé : adressez-vous à la coordination de votre CPTS."


def psc_account(session: Session, identity: PscIdentity, now: datetime) -> User:
    """The account a Pro Santé Connect identity signs into, or PscRefused (nothing written).

    In this order: the account already linked to that national identifier (IDNPS); a SAS
    regulator's account bearing it (INT_R02 sends the IDNPS); the account of the doctor whose
    RPPS it carries, linked now; and when that doctor has no account yet and its coordination
    allowed it (`psc_sign_in_allowed`), its doctor account, made now in the doctor's CPTS.
    When PSC says what the person's profession is, a doctor's account needs a médecin."""
    national_id = identity.national_id
    user = session.scalars(select(User).where(User.national_id == national_id)).one_or_none()
    if user is None:
        user = find_regulator(session, NATIONAL_PS, national_id)
    doctor = None
    if user is None and identity.rpps is not None:
        doctor = doctors_repository.by_rpps_unscoped(session, identity.rpps)
        if doctor is not None:
            user = session.scalars(select(User).where(User.doctor_id == doctor.id)).one_or_none()
    if user is None and doctor is not None and doctor.psc_sign_in_allowed and doctor.active:
        if identity.is_doctor is False:
            raise PscRefused("not_a_doctor", PSC_UNKNOWN, 403)
        user = _psc_doctor_account(session, doctor)
    if user is None:
        raise PscRefused("unknown_identity", PSC_UNKNOWN, 403)
    if not user.active or user.erased_at is not None:
        raise PscRefused("inactive_account", PSC_INACTIVE, 403)
    if user.role == Role.DOCTOR.value and identity.is_doctor is False:
        raise PscRefused("not_a_doctor", PSC_UNKNOWN, 403)
    if user.national_id is None:
        user.national_id = national_id
        territory_ids: list[int | None] = [*sorted(user.territory_ids)] or [None]
        for territory_id in territory_ids:
            record(session, None, "user.psc_link", "user", user.id, territory_id, actor="psc")
    elif user.national_id != national_id:  # a regulator's account linked to another professional
        raise PscRefused("national_id_mismatch", PSC_UNKNOWN, 403)
    user.last_active_at = now  # committed with the session opened next; retention reads it
    return user


def spend_psc_state(session: Session, state_digest: str, now: datetime) -> None:
    """A Pro Santé Connect `state` used: a second use breaks the primary key (IntegrityError)."""
    session.add(PscSpentState(state_digest=state_digest, spent_at=now))
    session.flush()


def forget_spent_psc_states(session: Session, now: datetime, minutes: int) -> None:
    """States older than a sign-in may last cannot come back anyway (their cookie expired)."""
    session.execute(delete(PscSpentState).where(PscSpentState.spent_at < now - timedelta(minutes=minutes)))


def _psc_doctor_account(session: Session, doctor: Doctor) -> User:
    """A doctor's first Pro Santé Connect sign-in, allowed by its coordination: its account,
    with no password (it signs in through PSC), in the doctor's CPTS."""
    email = doctor.email.strip().lower()
    if session.scalars(select(User.id).where(func.lower(User.email) == email)).first() is not None:
        raise PscRefused(
            "email_taken",
            "Un autre compte utilise déjà l'adresse e-mail de votre fiche : adressez-vous à la coordination de "
            "votre CPTS.",
            409,
        )
    user = User(
        email=email,
        display_name=professions.display_name(doctor.profession, doctor.given_name, doctor.family_name)[:200],
        role=Role.DOCTOR.value,
        password_hash=None,
        doctor_id=doctor.id,
        memberships=[Membership(territory_id=doctor.territory_id)],
    )
    session.add(user)
    session.flush()  # the id, for the trail
    record(session, None, "user.create", "user", user.id, doctor.territory_id, actor="psc")
    return user


def open_session(session: Session, settings: Settings, user: User, *, strong: bool = False) -> tuple[str, WebSession]:
    """A browser session. `strong`: opened after a second factor, or by a sign-in that counts
    as one (Pro Santé Connect): it meets REQUIRE_SECOND_FACTOR (app/accounts/second_factor.py)."""
    secret = new_secret()
    web_session = WebSession(
        user_id=user.id,
        strong=strong,
        token_hash=digest(secret),
        csrf_token=new_secret(),
        territory_id=min(user.territory_ids) if user.territory_ids else None,
        expires_at=utcnow() + timedelta(hours=settings.session_hours),
    )
    session.add(web_session)
    session.flush()  # its id and defaults, for the caller
    return secret, web_session


def close_session(session: Session, principal: Principal) -> None:
    if principal.session_id is not None:
        web_session = session.get(WebSession, principal.session_id)
        if web_session is not None:
            session.delete(web_session)


def current_user(session: Session, principal: Principal) -> User:
    return session.get_one(User, principal.user_id)


def set_session_territory(session: Session, web_session_id: int, territory_id: int) -> None:
    """The CPTS a browser session works in, remembered for its next pages."""
    web_session = session.get_one(WebSession, web_session_id)
    web_session.territory_id = territory_id


def create_token(session: Session, principal: Principal, name: str) -> tuple[str, ApiToken]:
    secret = new_secret(TOKEN_PREFIX)
    # A token made from a strong session (or a strong token) is strong: it meets the
    # second-factor requirement, which a token made from a password alone never does.
    token = ApiToken(user_id=principal.user_id, name=name, token_hash=digest(secret), strong=principal.strong)
    session.add(token)
    session.flush()  # its id, for the answer
    return secret, token


def list_tokens(session: Session, principal: Principal) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id)).all()


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user_id:
        raise NotFound("Jeton introuvable.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(session, principal, "token.revoke", "user", token.user_id, None)
    return token


# ---- Passwords and sessions ------------------------------------------------------------------


def set_password(session: Session, user: User, password: str) -> None:
    """A new password (12 characters at least): the links signed over the previous one are spent."""
    try:
        check_password_strength(password)
    except ValueError as exc:
        raise Unprocessable(str(exc), fields=[FieldError(field="password", message=str(exc))]) from None
    user.password_hash = hash_password(password)


def choose_password_from_link(session: Session, user: User, password: str, purpose: links.Purpose) -> None:
    """The owner of an invitation or a reset link chooses its password; a reset ends every session."""
    set_password(session, user, password)
    if purpose is links.Purpose.RESET:
        end_sessions(session, user.id)
    record(session, None, f"user.password_{purpose.value}", "user", user.id, None, actor=user.email)


def change_password(session: Session, principal: Principal, current: str, new: str) -> None:
    """One's own password, the current one required; the other sessions end (this one stays)."""
    user = current_user(session, principal)
    if not verify_password(current, user.password_hash):
        message = "Mot de passe actuel incorrect."
        raise Unprocessable(message, fields=[FieldError(field="current_password", message=message)])
    set_password(session, user, new)
    end_sessions(session, user.id, keep=principal.session_id)
    record(session, principal, "user.password_change", "user", user.id, None)


def request_password_reset(session: Session, settings: Settings, base_url: str, email: str) -> None:
    """ "Mot de passe oublié": a link e-mailed (through the outbox) to an active account with
    this address. The caller answers the same whether or not there is one; the link is signed
    either way so that both take as long."""
    email = email.strip().lower()
    user = session.scalars(select(User).where(func.lower(User.email) == email)).one_or_none()
    target = user if user is not None and user.active else User(id=0, email=email, password_hash=None)
    link, expires = links.make_link(settings, base_url, target, links.Purpose.RESET)
    if target is not user:
        return
    subject, body = render(
        "password_reset", "email", display_name=target.display_name, link=link, expires=paris_time(expires)
    )
    enqueue(session, kind="password_reset", channel="email", recipient=target.email, subject=subject, body=body)
    record(session, None, "user.password_reset_request", "user", target.id, None, actor="lien")


def end_sessions(session: Session, user_id: int, keep: int | None = None) -> None:
    statement = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(WebSession.id != keep)
    session.execute(statement)


def list_sessions(session: Session, principal: Principal) -> Sequence[WebSession]:
    return session.scalars(
        select(WebSession)
        .where(WebSession.user_id == principal.user_id, WebSession.expires_at > utcnow())
        .order_by(WebSession.created_at.desc(), WebSession.id.desc())
    ).all()


def revoke_session(session: Session, principal: Principal, session_id: int) -> None:
    """One of one's own sessions ends (another browser signed out): 404 for anybody else's."""
    web_session = session.get(WebSession, session_id)
    if web_session is None or web_session.user_id != principal.user_id:
        raise NotFound("Session introuvable.")
    session.delete(web_session)
    record(session, principal, "session.revoke", "user", principal.user_id, None)


def mark_session_strong(session: Session, principal: Principal, how: str) -> str:
    """The second factor given: this browser's session meets the requirement from now on,
    under a new secret (the cookie's value changes with the session's strength). The new
    secret, for the cookie."""
    if principal.session_id is None:
        raise Forbidden("Le second facteur se donne depuis une session du navigateur.")
    web_session = session.get_one(WebSession, principal.session_id)
    secret = new_secret()
    web_session.strong, web_session.token_hash = True, digest(secret)
    record(session, principal, f"user.second_factor_{how}", "user", principal.user_id, None)
    return secret

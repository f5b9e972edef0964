"""Accounts: creating users, signing in (with growing delays), sessions and personal API tokens."""

import hashlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.accounts.access import visible
from app.accounts.models import ApiToken, Membership, Role, SignInFailures, User, WebSession
from app.accounts.policy import may_change_account, may_create_account, switches_whole_account
from app.accounts.principal import Principal
from app.accounts.schemas import UserCreate, UserOut
from app.accounts.security import TOKEN_PREFIX, digest, hash_password, new_secret, verify_password
from app.audit.service import record
from app.core.database import commit_early, utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, TooManyRequests, Unauthorized, Unprocessable
from app.core.settings import Settings
from app.doctors.models import Doctor
from app.requests.models import Source
from app.territories.models import Territory


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


def create_user(session: Session, data: UserCreate, by: Principal | None) -> User:
    """`by` is None from the command line (the operator of the deployment)."""
    territories = []
    for slug in data.cpts:
        territory = session.scalars(select(Territory).where(Territory.slug == slug)).one_or_none()
        if territory is None:
            raise Unprocessable(
                f"Aucune CPTS « {slug} ».", fields=[FieldError(field="cpts", message=f"CPTS inconnue : {slug}.")]
            )
        territories.append(territory)
    if data.role is not Role.ADMIN and not territories:
        raise Unprocessable(
            "Un compte appartient à au moins une CPTS.", fields=[FieldError(field="cpts", message="Au moins une CPTS.")]
        )
    # Coordinators add people to their own CPTS, never an admin.
    if not may_create_account(by, data.role, {t.id for t in territories}):
        raise Forbidden("Vous ne pouvez créer de comptes que dans vos CPTS, et pas d'administrateur.")
    doctor = None
    if data.role is Role.DOCTOR:
        if not data.doctor_rpps:
            raise Unprocessable(
                "RPPS du médecin requis.",
                fields=[FieldError(field="doctor_rpps", message="Requis pour un compte médecin.")],
            )
        doctor = session.scalars(select(Doctor).where(Doctor.rpps == data.doctor_rpps)).one_or_none()
        if doctor is None or doctor.territory_id not in {t.id for t in territories}:
            raise Unprocessable(
                "Aucun médecin de ces CPTS avec ce RPPS.",
                fields=[FieldError(field="doctor_rpps", message="Médecin introuvable dans ces CPTS.")],
            )
    organisation = _organisation(session, data.organisation, territories) if data.organisation else None
    email = str(data.email).lower()
    if session.scalars(select(User.id).where(func.lower(User.email) == email)).first() is not None:
        raise Conflict("Un compte existe déjà avec cette adresse e-mail.")
    user = User(
        email=email,
        display_name=data.display_name,
        role=data.role.value,
        password_hash=hash_password(data.password),
        doctor_id=doctor.id if doctor else None,
        organisation_id=organisation.id if organisation else None,
        memberships=[Membership(territory_id=t.id) for t in territories],
    )
    session.add(user)
    session.flush()  # the id, for the trail; a rival account with this e-mail is a 409 (core/constraints.py)
    territory_ids: list[int | None] = [t.id for t in territories]
    for territory_id in territory_ids or [None]:
        record(session, by, "user.create", "user", user.id, territory_id, actor="cli")
    return user


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
    failures = session.get(SignInFailures, key)
    forgotten = failures is not None and failures.last_failure_at < now - timedelta(
        minutes=settings.login_failures_kept_minutes
    )
    if failures is not None and not forgotten:
        retry_at = failures.last_failure_at + sign_in_delay(settings, failures.failures)
        if retry_at > now:
            seconds = math.ceil((retry_at - now).total_seconds())
            raise TooManyRequests(
                f"Trop de tentatives avec cette adresse e-mail : réessayez dans {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )
    user = session.scalars(select(User).where(func.lower(User.email) == email)).one_or_none()
    # Checked even without an account, against a dummy hash: the answer takes as long either way.
    password_ok = verify_password(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.active:
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
        commit_early(session, why="a failed sign-in counts although the answer is a 401")
        raise Unauthorized("Adresse e-mail ou mot de passe incorrect.")
    if failures is not None:
        session.execute(delete(SignInFailures).where(SignInFailures.email_digest == key))
    user.last_active_at = now  # committed with the session opened next; retention reads it
    return user


def open_session(session: Session, settings: Settings, user: User) -> tuple[str, WebSession]:
    secret = new_secret()
    web_session = WebSession(
        user_id=user.id,
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
    token = ApiToken(user_id=principal.user_id, name=name, token_hash=digest(secret))
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
    return token

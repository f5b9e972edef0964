from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow
from app.territories.models import Territory


class Role(StrEnum):
    ADMIN = "admin"  # the whole deployment
    COORDINATOR = "coordinator"  # one or more CPTS
    PROFESSIONAL = "professional"  # pharmacist, nurse…: the requests it submitted
    DOCTOR = "doctor"  # its own record, capacity and slots
    REGULATOR = "regulator"  # SAS regulation: books unscheduled-care slots
    SECRETARIAT = "secretariat"  # the CPTS's phone line: books unscheduled care for callers
    CPAM = "cpam"  # the Assurance Maladie: the médecin-traitant requests it submitted for its insured


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # A SAS regulator's name as the platform sent it (INT_R02), family and given names apart so
    # that "Jean Pierre" "DE LA TOUR" comes back as sent; given names one a line.
    family_name: Mapped[str | None] = mapped_column(String(100))
    given_names: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # For role doctor: the registry entry this account manages.
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id", ondelete="SET NULL"), unique=True)
    # The national identifier of a health professional (IDNPS: 8 + RPPS), as Pro Santé Connect
    # sends it (SubjectNameID); recorded at its first PSC sign-in (app/accounts/psc.py).
    national_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    # For a professional: its organisation (pharmacy, practice, CPAM…), a source of the CPTS,
    # credited with the requests it submits.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Retention of accounts (app/privacy/retention.py): inactive for long, an account is
    # deactivated (deactivated_at), then erased (erased_at) a year later.
    # Last sign-in or reactivation.
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The second factor (app/accounts/second_factor.py): a TOTP secret, in use once confirmed
    # with a first code; the last time step accepted, so that a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def territory_ids(self) -> frozenset[int]:
        return frozenset(m.territory_id for m in self.memberships)


class Membership(Base):
    """A user belongs to one or more CPTS."""

    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    territory_id: Mapped[int] = mapped_column(
        ForeignKey("territories.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    user: Mapped[User] = relationship(back_populates="memberships")
    territory: Mapped[Territory] = relationship(lazy="joined")


class ApiToken(Base):
    """A personal token for scripts. Only its SHA-256 is kept: it is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Created from a session opened strong: it meets the second-factor requirement.
    strong: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser. The cookie holds a random secret; we keep its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    # The CPTS the user works in now (the switcher of the web pages), for multi-CPTS users.
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Opened after a second factor (or by a sign-in that counts as strong, Pro Santé Connect).
    strong: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class SignInFailures(Base):
    """Failed sign-ins in a row for one e-mail address, whether an account has it or not (the
    answers must not tell), keyed by a digest of the address rather than the address itself."""

    __tablename__ = "sign_in_failures"

    email_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PscSpentState(Base):
    """A Pro Santé Connect `state` that came back once (its SHA-256): a second arrival with the
    same one is refused. Kept as long as a sign-in may last (app/accounts/psc.py)."""

    __tablename__ = "psc_spent_states"

    state_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app: shown once, its SHA-256 kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

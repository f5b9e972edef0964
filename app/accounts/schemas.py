from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.accounts.models import Role
from app.accounts.security import check_password_strength


class LoginIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class AccountFields(BaseModel):
    """What makes an account, whether created with a password (API, command line) or invited."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    display_name: str = Field(min_length=2, max_length=200)
    role: Role
    cpts: list[str] = Field(default_factory=list, description="Slugs of the CPTS the user belongs to.")
    doctor_rpps: str | None = Field(default=None, description="For role doctor: its RPPS.")
    organisation: str | None = Field(
        default=None,
        max_length=64,
        description="For a professional: the tag of its organisation's source (pharmacy, practice, CPAM…) "
        "in one of its CPTS, credited with the requests it submits.",
    )


class UserCreate(AccountFields):
    password: str = Field(max_length=200)

    @field_validator("password")
    @classmethod
    def _strong(cls, value: str) -> str:
        return check_password_strength(value)


class Invitation(AccountFields):
    """An account invited by e-mail: its owner chooses the password from the link."""


class UserUpdate(BaseModel):
    """What a manager changes on an account (its CPTS and e-mail stay)."""

    display_name: str = Field(min_length=2, max_length=200)
    role: Role
    doctor_rpps: str | None = None
    organisation: str | None = Field(default=None, max_length=64)


class UserOut(BaseModel):
    id: int
    email: str
    display_name: str
    role: Role
    active: bool
    cpts: list[str]
    doctor_id: int | None
    created_at: datetime


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every change made through the session cookie.")
    expires_at: datetime


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["export mensuel"])


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="Shown once: only its hash is kept.")

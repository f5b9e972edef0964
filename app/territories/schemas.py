from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.core.identifiers import normalize_phone, validate_finess

Slug = Annotated[
    str,
    Field(
        min_length=2,
        max_length=64,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        description="Lower-case letters, digits and hyphens, e.g. `grand-arras`.",
        examples=["grand-arras"],
    ),
]


class CommuneByName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    postcode: str = Field(pattern=r"^\d{5}$", examples=["13790"])
    name: str = Field(min_length=1, max_length=100, examples=["Rousset"])


InseeCode = Annotated[str, Field(pattern=r"^(\d{5}|2[ABab]\d{3})$", examples=["62041"])]


class TerritoryFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200, examples=["CPTS du Grand Arras"])
    phone: str = Field(examples=["03 21 00 00 00"])
    email: EmailStr

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalize_phone(value)


class TerritoryCreate(TerritoryFields):
    slug: Slug
    finess: str = Field(examples=["620043591"])
    communes: list[InseeCode | CommuneByName] = Field(
        min_length=1,
        description="The communes served: INSEE codes, or postcode + name pairs.",
    )

    @field_validator("finess")
    @classmethod
    def _finess(cls, value: str) -> str:
        return validate_finess(value)


class TerritoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=2, max_length=200)
    weight_ald: int | None = Field(default=None, ge=0, le=10, description="Priority weight of ALD.")
    weight_age_70: int | None = Field(default=None, ge=0, le=10, description="Priority weight of 70 and over.")
    weight_css: int | None = Field(default=None, ge=0, le=10, description="Priority weight of CSS/AME.")
    phone: str | None = None
    email: EmailStr | None = None
    communes: list[InseeCode | CommuneByName] | None = Field(default=None, min_length=1)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)


class CommuneOut(BaseModel):
    insee: str
    name: str = Field(description="Official name, with its article as INSEE writes it.", examples=["Le Havre"])
    department: str
    postcodes: list[str]
    population: int
    latitude: float | None
    longitude: float | None


class TerritoryRef(BaseModel):
    slug: str
    name: str


class TerritoryOut(TerritoryRef):
    finess: str
    weight_ald: int
    weight_age_70: int
    weight_css: int
    phone: str
    email: str
    population: int
    communes: list[CommuneOut]
    created_at: datetime
    updated_at: datetime

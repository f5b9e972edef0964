from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel

from app.accounts.policy import Action
from app.accounts.principal import require
from app.core.dependencies import Communes, DbSession, Geocoding, ReadSession
from app.core.errors import FieldError, Unprocessable, error_responses
from app.core.ratelimit import LOOKUPS
from app.territories import service
from app.territories.residency import check_residency
from app.territories.schemas import (
    CommuneOut,
    TerritoryCreate,
    TerritoryOut,
    TerritoryRef,
    TerritoryUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["territories"])


class CommuneBrief(BaseModel):
    insee: str
    name: str


class LocationOut(BaseModel):
    latitude: float
    longitude: float


class ResidencyOut(BaseModel):
    commune: CommuneBrief
    postcode: str
    territory: TerritoryRef | None
    precision: Literal["housenumber", "street", "locality", "municipality"] | None
    location: LocationOut | None
    geocoder: Literal["ban", "offline"]
    fallback_reason: (
        Literal["ban_not_configured", "ban_unavailable", "address_not_found", "address_in_other_commune"] | None
    )
    message: str


@router.get("/communes", response_model=list[CommuneOut], dependencies=[Depends(LOOKUPS)])
def search_communes(
    communes: Communes,
    postcode: Annotated[str | None, Query(description="Every commune this postcode serves.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Start of a name, a postcode or an INSEE code.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[CommuneOut]:
    """For the form's commune picker."""
    if postcode:
        if not (postcode.isdigit() and len(postcode) == 5):
            raise Unprocessable(
                "Code postal invalide.",
                fields=[FieldError(field="postcode", message="Code postal invalide : 5 chiffres attendus.")],
            )
        found = communes.by_postcode(postcode)
    elif q and q.strip():
        found = communes.search(q, limit=limit)
    else:
        raise Unprocessable(
            "Indiquez un code postal ou une recherche.",
            fields=[FieldError(field="q", message="Indiquez un code postal (postcode) ou une recherche (q).")],
        )
    return [service.commune_out(c) for c in found[:limit]]


@router.get(
    "/residency",
    response_model=ResidencyOut,
    responses=error_responses(422, 429),
    dependencies=[Depends(LOOKUPS)],
)
def residency(
    reads: ReadSession,
    geocoding: Geocoding,
    postcode: Annotated[str, Query(description="5-digit postcode")],
    city: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Commune name, with or without its article (Le Havre, Havre); case, accents, "
            "hyphens and St/Saint do not matter.",
        ),
    ] = None,
    address: Annotated[str | None, Query(max_length=200, description="Street address")] = None,
) -> ResidencyOut:
    """Does this person live in one of the deployment's CPTS? An undecidable commune → 422
    with `candidates`, so the form can ask which one."""
    result = check_residency(reads.session, geocoding, postcode, city, address)  # the replica, if any
    placement = result.placement
    location = placement.location
    return ResidencyOut(
        commune=CommuneBrief(insee=placement.commune.insee, name=placement.commune.name),
        postcode=placement.postcode,
        territory=(TerritoryRef(slug=result.territory.slug, name=result.territory.name) if result.territory else None),
        precision=location.precision if location else None,
        location=LocationOut(latitude=location.latitude, longitude=location.longitude) if location else None,
        geocoder=placement.geocoder,
        fallback_reason=placement.fallback_reason,
        message=result.message,
    )


@router.get("/territories", response_model=list[TerritoryOut])
def list_territories(session: DbSession, communes: Communes) -> list[TerritoryOut]:
    return [service.territory_out(t, communes) for t in service.list_territories(session)]


@router.get("/territories/{slug}", response_model=TerritoryOut, responses=error_responses(404))
def get_territory(slug: str, session: DbSession, communes: Communes) -> TerritoryOut:
    return service.territory_out(service.get_territory(session, slug), communes)


@router.post(
    "/territories",
    response_model=TerritoryOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[require(Action.MANAGE_TERRITORIES)],
    responses=error_responses(401, 403, 409, 422),
)
def create_territory(data: TerritoryCreate, session: DbSession, communes: Communes, response: Response) -> TerritoryOut:
    territory = service.create_territory(session, data, communes)
    response.headers["Location"] = f"/api/v1/territories/{territory.slug}"
    return service.territory_out(territory, communes)


@router.patch(
    "/territories/{slug}",
    response_model=TerritoryOut,
    dependencies=[require(Action.MANAGE_TERRITORIES)],
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_territory(slug: str, data: TerritoryUpdate, session: DbSession, communes: Communes) -> TerritoryOut:
    return service.territory_out(service.update_territory(session, slug, data, communes), communes)

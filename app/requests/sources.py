"""Sources of requests (a pharmacy, a surgery, a town hall, the CPAM…): their QR codes and flyers."""

import io
import re
import secrets
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.audit.service import record
from app.core.database import utcnow
from app.core.errors import Conflict, NotFound
from app.doctors.service import territory_for
from app.requests.models import PatientRequest, Source
from app.territories.communes import normalize_name

SourceKind = ("pharmacy", "surgery", "town_hall", "cpam", "other")


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpts: str
    name: str = Field(min_length=2, max_length=200, examples=["Pharmacie de la Gare, Arras"])
    kind: str = Field(default="other", pattern="^(pharmacy|surgery|town_hall|cpam|other)$")


class SourceUpdate(BaseModel):
    """What the coordination may change of a source: its name, type and notes (never its tag:
    the QR codes already printed carry it)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200)
    kind: str = Field(default="other", pattern="^(pharmacy|surgery|town_hall|cpam|other)$")
    details: str | None = Field(default=None, max_length=500)


class SourceOut(BaseModel):
    id: int
    cpts: str
    tag: str
    name: str
    kind: str
    form_url: str
    requests: int


def form_url(public_url: str, source: Source) -> str:
    return f"{public_url.rstrip('/')}/?source={source.tag}"


def create_source(session: Session, principal: Principal, data: SourceCreate) -> Source:
    territory = territory_for(session, principal, data.cpts)
    # Readable and unguessable enough that nobody types another source's tag by chance.
    base = re.sub(r"[^a-z0-9]+", "-", normalize_name(data.name)).strip("-")[:40] or "source"
    source = Source(territory_id=territory.id, tag=f"{base}-{secrets.token_hex(2)}", name=data.name, kind=data.kind)
    session.add(source)
    session.flush()
    record(session, principal, "source.create", "source", source.id, territory.id)
    return source


def update_source(session: Session, principal: Principal, source_id: int, data: SourceUpdate) -> Source:
    source = get_source(session, principal, source_id)
    source.name, source.kind, source.details = data.name, data.kind, data.details or None
    record(session, principal, "source.update", "source", source.id, source.territory_id)
    return source


def retire_source(session: Session, principal: Principal, source_id: int) -> Source:
    """The campaign ended. Its QR code keeps working: it opens a page that says so and leads
    to the CPTS's questionnaire (app/web/request_form.py), and from then on a request made
    through it is not credited to it (`credited`): its figures are the campaign's. The
    requests it brought stay counted under it, in the indicators and the exports."""
    source = get_source(session, principal, source_id)
    if source.retired_at is not None:
        raise Conflict(f"La source « {source.name} » est déjà retirée.")
    source.retired_at = utcnow()
    record(session, principal, "source.retire", "source", source.id, source.territory_id)
    return source


def credited(source: Source | None) -> Source | None:
    """The source a new request is credited to: none once it is retired."""
    return source if source is not None and source.retired_at is None else None


def visible_sources(session: Session, principal: Principal, cpts: str | None = None) -> Sequence[tuple[Source, int]]:
    """Sources with how many requests each brought."""
    counts = select(PatientRequest.source_id, func.count().label("n")).group_by(PatientRequest.source_id).subquery()
    query = (
        select(Source, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.source_id == Source.id)
        .where(visible(Source, principal))
        .order_by(Source.name)
    )
    if cpts:
        query = query.where(Source.territory.has(slug=cpts))
    return session.execute(query).all()


def get_source(session: Session, principal: Principal, source_id: int) -> Source:
    source = session.scalars(select(Source).where(Source.id == source_id, visible(Source, principal))).one_or_none()
    if source is None:
        raise NotFound("Source introuvable.")
    return source


def qr_code(url: str, kind: str) -> bytes:
    """The form's address as a QR code; error correction M survives a creased flyer."""
    import segno  # ~9 MB of a worker, for a page printed now and then: loaded when first asked

    qr = segno.make(url, error="m")
    out = io.BytesIO()
    if kind == "svg":
        qr.save(out, kind="svg", scale=8, border=2, xmldecl=False, svgns=True, title="QR code du questionnaire")
    else:
        qr.save(out, kind="png", scale=10, border=2)
    return out.getvalue()

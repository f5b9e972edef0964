from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse

from app.accounts.policy import Action
from app.accounts.principal import Principal, require
from app.core.dependencies import DbSession
from app.core.errors import error_responses
from app.core.inputs import DbId
from app.core.links import public_base_url
from app.requests import sources
from app.requests.sources import SourceCreate, SourceOut
from app.web.templates import templates

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])
SourceManager = Annotated[Principal, require(Action.MANAGE_SOURCES)]


def _out(request: Request, source, count: int) -> SourceOut:
    return SourceOut(
        id=source.id,
        cpts=source.territory.slug,
        tag=source.tag,
        name=source.name,
        kind=source.kind,
        form_url=sources.form_url(public_base_url(request), source),
        requests=count,
    )


@router.post(
    "", response_model=SourceOut, status_code=status.HTTP_201_CREATED, responses=error_responses(401, 403, 422)
)
def create(data: SourceCreate, principal: SourceManager, session: DbSession, request: Request) -> SourceOut:
    """A named place that hands out flyers; its requests are counted."""
    return _out(request, sources.create_source(session, principal, data), 0)


@router.get("", response_model=list[SourceOut], responses=error_responses(401, 403))
def list_sources(
    principal: SourceManager, session: DbSession, request: Request, cpts: str | None = None
) -> list[SourceOut]:
    return [_out(request, s, n) for s, n in sources.visible_sources(session, principal, cpts)]


@router.get(
    "/{source_id}/qr.{kind}",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}, **error_responses(401, 403, 404)},
)
def qr(
    source_id: DbId, kind: Literal["svg", "png"], principal: SourceManager, session: DbSession, request: Request
) -> Response:
    source = sources.get_source(session, principal, source_id)
    url = sources.form_url(public_base_url(request), source)
    media = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(
        sources.qr_code(url, kind),
        media_type=media,
        headers={"Content-Disposition": f'inline; filename="qr-{source.tag}.{kind}"'},
    )


@router.get("/{source_id}/flyer", response_class=HTMLResponse, responses=error_responses(401, 403, 404))
def flyer(source_id: DbId, principal: SourceManager, session: DbSession, request: Request) -> HTMLResponse:
    """A printable A5 flyer: the QR code, the CPTS's name and the coordinator's phone."""
    source = sources.get_source(session, principal, source_id)
    url = sources.form_url(public_base_url(request), source)
    svg = sources.qr_code(url, "svg").decode()
    context = {"source": source, "territory": source.territory, "url": url, "qr_svg": svg}
    return templates.TemplateResponse(request, "flyer.html", context)

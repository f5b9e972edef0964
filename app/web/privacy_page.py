"""The public "Confidentialité" page (`/confidentialite`, `?cpts=slug` for a CPTS's own), linked
from every public page and every message: app/privacy/notice.py says what it holds."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.core.dependencies import DbSession
from app.core.identifiers import french_phone
from app.privacy.notice import CNIL_ADDRESS, CNIL_COMPLAINT_URL, privacy_notice
from app.territories.service import territory_by_slug
from app.web.templates import templates

router = APIRouter(include_in_schema=False)


@router.get("/confidentialite", response_class=HTMLResponse)
def privacy(
    request: Request, session: DbSession, cpts: Annotated[str | None, Query(max_length=64)] = None
) -> HTMLResponse:
    # An unknown CPTS is not an error here: the deployment's notice is still the answer.
    territory = territory_by_slug(session, cpts) if cpts else None
    notice = privacy_notice(
        request.app.state.settings,
        territory.name if territory else None,
        territory.email if territory else None,
        french_phone(territory.phone) if territory else None,
    )
    context = {
        "notice": notice,
        "cpts": territory.slug if territory else None,
        "cnil_url": CNIL_COMPLAINT_URL,
        "cnil_address": CNIL_ADDRESS,
    }
    return templates.TemplateResponse(request, "privacy.html", context)

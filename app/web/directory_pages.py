"""The national directory's page: upload the RPPS extraction, see the last imports' reports.
Rules are app.directory's."""

from typing import Annotated

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse

from app.accounts.policy import Action
from app.core.dependencies import DbSession, Geocoding
from app.core.errors import ApiError, NotFound
from app.directory import service
from app.directory.schemas import DirectoryImportReport
from app.web.pages import render
from app.web.session import Caller, page_for

router = APIRouter(prefix="/espace", include_in_schema=False)
DirectoryManager = Annotated[Caller, page_for(Action.IMPORT_DIRECTORY)]
RECENT = 10


def _page(
    request: Request,
    caller: Caller,
    session: DbSession,
    reports: list[DirectoryImportReport] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    if caller.territory is None:
        raise NotFound("Aucune CPTS.")
    context = {
        "reports": reports or [],
        "error": error,
        "recent": service.recent_reports(session, caller.principal, caller.territory.id, RECENT),
        "count": service.practitioner_count(session, caller.principal, caller.territory.id),
        "max_bytes": request.app.state.settings.directory_upload_max_bytes,
    }
    return render(request, caller, "espace/directory.html", context, status_code)


@router.get("/annuaire", response_class=HTMLResponse)
def directory_page(request: Request, caller: DirectoryManager, session: DbSession) -> HTMLResponse:
    return _page(request, caller, session)


@router.post("/annuaire/import", response_class=HTMLResponse)
def import_upload(
    request: Request,
    caller: DirectoryManager,
    session: DbSession,
    geocoding: Geocoding,
    file: UploadFile | None = None,
) -> HTMLResponse:
    """The upload reached us as a temporary file (Starlette spools a part past 1 MB to disk, the
    body's size is capped by DIRECTORY_UPLOAD_MAX_BYTES): it is read from there as a stream. The
    import commits its own batches (app.directory.service), so this request's transaction, which
    only read who is calling, ends first: on SQLite it would hold the one write lock."""
    if caller.territory is None:
        raise NotFound("Aucune CPTS.")
    if file is None or not file.filename or file.size == 0:
        return _page(request, caller, session, error="Choisissez le fichier de l'Annuaire Santé.", status_code=422)
    slug = caller.territory.slug  # read before the rollback expires it (reading it again would begin anew)
    session.rollback()  # nothing written yet: it only read the caller (see the docstring)
    try:
        reports = service.import_directory(
            request.app.state.write_sessions,
            geocoding,
            caller.principal,
            file.file,
            file.filename,
            territory=slug,
        )
    except ApiError as exc:
        if exc.status_code in (403, 404):
            raise
        return _page(request, caller, session, error=exc.message, status_code=422)
    finally:
        file.file.close()
    return _page(request, caller, session, reports=reports)

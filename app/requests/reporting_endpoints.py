from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from app.accounts.policy import Action
from app.accounts.principal import Principal, require
from app.audit.service import record
from app.core.database import own_transaction
from app.core.dependencies import DbSession
from app.core.errors import FieldError, Unprocessable, error_responses
from app.core.inputs import BoundedDate
from app.doctors.service import territory_for
from app.requests import reporting
from app.requests.models import RequestStatus

router = APIRouter(prefix="/api/v1", tags=["reporting"])
IndicatorReader = Annotated[Principal, require(Action.READ_INDICATORS)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(since: date | None, until: date | None) -> reporting.Period:
    if since and until and since > until:
        raise Unprocessable("Période invalide.", fields=[FieldError(field="from", message="Le début suit la fin.")])
    return reporting.Period(since, until)


@router.get(
    "/requests/export",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}, **error_responses(401, 403, 422)},
)
def export(
    principal: IndicatorReader,
    session: DbSession,
    request: Request,
    format: Literal["csv", "xlsx"] = "csv",
    cpts: str | None = None,
    since: Annotated[BoundedDate | None, Query(alias="from")] = None,
    until: Annotated[BoundedDate | None, Query(alias="to")] = None,
    status: Annotated[list[RequestStatus] | None, Query()] = None,
    source: str | None = None,
) -> Response:
    """The requests, for follow-up in a spreadsheet (dates in Europe/Paris, `to` included).
    The export is written to the audit trail."""
    rows = reporting.export_rows(
        session, principal, cpts, _period(since, until), [s.value for s in status or []], source
    )
    # One trace per CPTS the export covers, so that each CPTS's trail shows it.
    covered: Sequence[int | None] = (
        [territory_for(session, principal, cpts).id] if cpts else sorted(principal.territory_ids) or [None]
    )
    with own_transaction(request.app.state.write_sessions) as audit:  # this GET's session only reads (SQLite)
        for territory_id in covered:
            record(audit, principal, "request.export", "patient_request", f"{len(rows)} lignes", territory_id)
    content, media = (
        (reporting.to_xlsx(rows), XLSX) if format == "xlsx" else (reporting.to_csv(rows), "text/csv; charset=utf-8")
    )
    filename = f"demandes-{cpts or 'toutes'}.{format}"
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/territories/{slug}/indicators", responses=error_responses(401, 403, 422))
def territory_indicators(
    slug: str,
    principal: IndicatorReader,
    session: DbSession,
    since: Annotated[BoundedDate | None, Query(alias="from")] = None,
    until: Annotated[BoundedDate | None, Query(alias="to")] = None,
) -> Mapping[str, Any]:
    """Requests received, out of territory, proposed, matched, closed by reason; the same
    split ALD / 70+ / CSS (ACI); median days to a match; the funnel in requests (received,
    offered to a doctor, a doctor found through an offer or by the coordinator, first
    appointment confirmed, declared médecin traitant) with its split and median delays; by
    commune and source; doctors, places offered and used, stale entries. For requests created in
    the period. Each doctor's response and acceptance rates are on the coordination's
    indicators page and its exports only."""
    return reporting.indicators(session, principal, slug, _period(since, until))

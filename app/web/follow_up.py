"""The patient's private follow-up page: where the request stands, in plain French."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.accounts.security import digest
from app.core.dependencies import DbSession
from app.core.identifiers import french_phone
from app.requests.repository import by_follow_up_token
from app.web.templates import templates

router = APIRouter(include_in_schema=False)

STATUS_TEXT = {
    "received": "Votre demande est enregistrée. La coordination de la CPTS l'étudie et vous contactera.",
    "proposed": "La coordination vous a envoyé une liste de médecins qui peuvent vous accueillir.",
    "matched": (
        "Un médecin a accepté de devenir votre médecin traitant : il vous déclare comme son patient lors de "
        "votre première consultation."
    ),
    "closed": "Votre demande est close.",
    "out_of_territory": (
        "Votre commune ne fait pas partie du territoire de la CPTS : nous ne pouvons pas vous orienter."
    ),
}


# A request merged into another one of the same patient: that one goes on.
DUPLICATE_TEXT = "Cette demande a été réunie avec une autre demande à votre nom, qui suit son cours."


@router.get("/suivi/{token}", response_class=HTMLResponse)
def follow_up(token: str, request: Request, session: DbSession) -> HTMLResponse:
    patient_request = by_follow_up_token(session, digest(token))
    if patient_request is None:
        return templates.TemplateResponse(request, "link_invalid.html", {"expired": False}, status_code=404)
    territory = patient_request.territory
    context = {
        "given_name": patient_request.given_name,
        "status_text": DUPLICATE_TEXT
        if patient_request.close_reason == "duplicate"
        else STATUS_TEXT[patient_request.status],
        "since": patient_request.updated_at,
        "territory_name": territory.name if territory else None,
        "territory_phone": french_phone(territory.phone) if territory else None,
    }
    return templates.TemplateResponse(request, "follow_up.html", context)

"""The page a doctor reaches from an offer's link: what it needs to decide, "J'accepte" or
"Je ne peux pas". The private link is the doctor's proof (no account needed); the rules are
app/requests/offers.py's."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.accounts.principal import client_address
from app.audit.service import record, record_read
from app.core.database import utcnow
from app.core.dependencies import DbSession
from app.core.identifiers import french_phone
from app.requests import offers
from app.requests.models import DoctorOffer, OfferStatus
from app.web.templates import templates

router = APIRouter(include_in_schema=False)


def _page(request: Request, session: Session, offer: DoctorOffer, outcome: str | None = None) -> HTMLResponse:
    territory = offer.request.territory
    view = offers.view(session, offer)
    if view.patient_name is not None:  # the accepting doctor reads the patient's name and phone
        reader = offers.doctor_principal(view.doctor)
        if request.method == "GET":
            record_read(
                session,
                request.app.state.write_sessions,
                reader,
                "patient_request",
                offer.request_id,
                offer.territory_id,
            )
        else:  # this request's session already writes (SQLite has one writer): committed with it
            record(session, reader, "read", "patient_request", offer.request_id, offer.territory_id)
    context = {
        "v": view,
        "open": offers.is_open(offer, utcnow()),
        "expired": offer.status == OfferStatus.PENDING.value and offer.expires_at <= utcnow(),
        "outcome": outcome,
        "territory_name": territory.name if territory else "",
        "territory_phone": french_phone(territory.phone) if territory else None,
    }
    return templates.TemplateResponse(request, "offer.html", context)


def _offer(request: Request, session: Session, token: str) -> DoctorOffer | HTMLResponse:
    offer = offers.offer_of_link(session, request.app.state.settings, token)
    if offer is None:
        return templates.TemplateResponse(request, "link_invalid.html", {"expired": False}, status_code=404)
    return offer


@router.get("/medecins/propositions/{token}", response_class=HTMLResponse)
def show(token: str, request: Request, session: DbSession) -> HTMLResponse:
    offer = _offer(request, session, token)
    return offer if isinstance(offer, HTMLResponse) else _page(request, session, offer)


@router.post("/medecins/propositions/{token}", response_class=HTMLResponse)
def answer(
    token: str,
    request: Request,
    session: DbSession,
    action: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=300)] = "",
) -> HTMLResponse:
    offer = _offer(request, session, token)
    if isinstance(offer, HTMLResponse):
        return offer
    if action == "accept":
        outcome = offers.accept(session, offer, client_address(request))
    elif action == "decline":
        declined = offers.decline(session, offer, reason.strip() or None, client_address(request))
        outcome = "declined" if declined else "closed"
    else:
        outcome = None
    return _page(request, session, offers.reload(session, offer), outcome)

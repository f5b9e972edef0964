"""The médecin-traitant work of the coordination: the queue, a request, its actions.

Every rule is the services' (app.requests): ranking, priority, transitions, scoping, the
messages. These pages only read the form, call them, and show the result (POST-redirect-GET
with a flash message)."""

import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.accounts.policy import Action
from app.audit.service import record, record_reads
from app.core.database import Reads, all_or_nothing, utcnow
from app.core.dependencies import DbSession
from app.core.errors import ApiError, Conflict, FieldError, Forbidden, NotFound, Unprocessable, french_message
from app.core.inputs import DbId
from app.core.links import public_base_url
from app.doctors import service as doctors_service
from app.requests import offers as offers_service
from app.requests import outcomes, repository, service
from app.requests.messages import compose_doctor_list, send_doctor_list
from app.requests.models import OPEN_STATUSES, RequestStatus
from app.requests.priority import day_in_paris
from app.requests.ranking import ORDER_EXPLANATION
from app.requests.schemas import NoteIn, RequestSummary, SendListIn, SuggestionOut, TransitionIn
from app.requests.sources import visible_sources
from app.territories.service import commune_choices
from app.web.labels import call_form_context
from app.web.pages import render
from app.web.session import Caller, page_for, redirect

Handler = Annotated[Caller, page_for(Action.HANDLE_REQUESTS)]

router = APIRouter(prefix="/espace", include_in_schema=False)
PER_PAGE = 50
STATUS_FILTERS = {
    "ouvertes": tuple(s.value for s in OPEN_STATUSES),
    "toutes": tuple(s.value for s in RequestStatus),
    **{s.value: (s.value,) for s in RequestStatus},
}


@router.get("/demandes", response_class=HTMLResponse)
def queue(
    request: Request,
    caller: Handler,
    session: DbSession,
    statut: Annotated[str, Query(max_length=20)] = "ouvertes",
    source: Annotated[str, Query(max_length=64)] = "",
    commune: Annotated[str, Query(max_length=5)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    attente: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    statut = statut if statut in STATUS_FILTERS else "ouvertes"
    attente = "longue" if attente == "longue" else ""
    alert = service.waiting_alert(request.app.state.settings.waiting_alert_days)
    filters = repository.QueueFilters(
        cpts=caller.cpts,
        statuses=STATUS_FILTERS[statut],
        source=source or None,
        commune=commune or None,
        q=q or None,
        received_before=alert.received_before if attente else None,
    )
    shown = service.queue(session, caller.principal, filters, page, PER_PAGE)
    total = shown.total
    # Names and ages are on screen: who saw which requests goes to the audit trail, as with the API.
    record_reads(session, request.app.state.write_sessions, caller.principal, "patient_request", shown.read)
    context = {
        "rows": shown.items,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "f": {"statut": statut, "source": source, "commune": commune, "q": q, "attente": attente},
        "alert": alert,
        "waiting_too_long": service.count_waiting_too_long(session, caller.principal, caller.cpts, alert),
        "sources": [s for s, _ in visible_sources(session, caller.principal, caller.cpts)],
        "communes": commune_choices(
            session, request.app.state.geocoding.communes, caller.territory.id if caller.territory else None
        ),
        "status_filters": STATUS_FILTERS,
        "auto_offers": caller.territory is not None and caller.territory.auto_offers_since is not None,
        "can_offer": caller.can(Action.OFFER_PATIENT) and caller.territory is not None,
        "offer_hours": request.app.state.settings.offer_answer_hours,
        # The phone line's compact form (app/web/call_pages.py), for those who log calls.
        "can_log_call": caller.can(Action.LOG_CALL) and caller.territory is not None,
        **call_form_context(),
        "call_return": "/espace/demandes",
    }
    return render(request, caller, "espace/queue.html", context)


def _doctor_names(session: Session, caller: Caller, patient_request) -> dict[int, str]:
    """The names of the doctors its history and its match name."""
    doctor_ids = {e.doctor_id for e in patient_request.events if e.doctor_id} | (
        {patient_request.matched_doctor_id} if patient_request.matched_doctor_id else set()
    )
    return doctors_service.display_names(session, caller.principal, doctor_ids)


def request_page(
    request: Request,
    caller: Caller,
    session,
    request_id: DbId,
    *,
    preview=None,
    chosen=(),
    channel=None,
    status_code: int = 200,
) -> HTMLResponse:
    patient_request = service.get_request(session, caller.principal, request_id)  # 404 outside the caller's scope
    # The possible duplicates are on screen too (their names and birth dates): read as well.
    duplicates = service.possible_duplicates(session, caller.principal, patient_request)
    duplicate_of = service.possibly_duplicated(session, caller.principal, patient_request)
    shown = [patient_request, *duplicates, *([duplicate_of] if duplicate_of else [])]
    if request.method == "GET":
        record_reads(
            session,
            request.app.state.write_sessions,
            caller.principal,
            "patient_request",
            [(r.id, r.territory_id) for r in shown],
        )
    else:  # a preview: this request's session may already write (SQLite has one writer); committed with it
        for r in shown:
            record(session, caller.principal, "read", "patient_request", r.id, r.territory_id)
    eligible, stale, considered = [], [], 0
    if patient_request.status in (RequestStatus.RECEIVED, RequestStatus.PROPOSED):
        _, ranking = service.suggestions(Reads(session=session, primary=session), caller.principal, request_id)
        eligible, stale, considered = (
            [SuggestionOut.from_suggestion(s) for s in ranking.eligible],
            [SuggestionOut.from_suggestion(s) for s in ranking.stale],
            ranking.considered,
        )
    points = [
        {"lat": s.latitude, "lon": s.longitude, "number": i, "label": f"{i}. {s.name}", "doctor": True}
        for i, s in enumerate(eligible, start=1)
        if s.latitude is not None
    ]
    patient_point = None
    if patient_request.latitude is not None:
        patient_point = {
            "lat": patient_request.latitude,
            "lon": patient_request.longitude,
            "label": f"Patient ({patient_request.commune_name})",
        }
    settings = request.app.state.settings
    offers = offers_service.offers_of_request(session, caller.principal, request_id)
    map_data = json.dumps(
        {
            "patient": patient_point,
            "doctors": points,
            "tiles": settings.map_tile_url,
            "attribution": settings.map_tile_attribution,
        }
    )
    is_open = patient_request.status in (RequestStatus.RECEIVED, RequestStatus.PROPOSED)
    no_doctor_left = (
        is_open and patient_request.no_doctor_left_at is not None and not any(o.status == "pending" for o in offers)
    )
    context = {
        "r": patient_request,
        "s": RequestSummary.from_row(patient_request, day_in_paris(), no_doctor_left=no_doctor_left),
        "eligible": eligible,
        "stale": stale,
        "considered": considered,
        "doctor_names": _doctor_names(session, caller, patient_request),
        "map_data": map_data,
        "preview": preview,
        "chosen": set(chosen),
        "channel": channel or patient_request.preferred_channel,
        "is_open": is_open,
        "ranking_order": ORDER_EXPLANATION,
        "duplicates": duplicates,
        "duplicate_of": duplicate_of,
        "can_merge": duplicate_of is not None and duplicate_of.status in OPEN_STATUSES,
        "can_offer": caller.can(Action.OFFER_PATIENT),
        "offer_hours": settings.offer_answer_hours,
        "offers": offers,
        "offer_doctor_names": doctors_service.display_names(session, caller.principal, {o.doctor_id for o in offers}),
        "offer_labels": OFFER_LABELS,
    }
    return render(request, caller, "espace/request.html", context, status_code)


@router.get("/demandes/{request_id}", response_class=HTMLResponse)
def show(request_id: DbId, request: Request, caller: Handler, session: DbSession) -> HTMLResponse:
    return request_page(request, caller, session, request_id)


@router.get("/demandes/{request_id}/imprimer", response_class=HTMLResponse)
def printable(request_id: DbId, request: Request, caller: Handler, session: DbSession) -> HTMLResponse:
    """One request on paper: the patient's answers, the lists of doctors sent (as sent), the
    history. A read of the patient's record, audited as the request page is."""
    patient_request = service.get_request(session, caller.principal, request_id)  # 404 outside the caller's scope
    record_reads(
        session,
        request.app.state.write_sessions,
        caller.principal,
        "patient_request",
        [(patient_request.id, patient_request.territory_id)],
    )
    context = {
        "r": patient_request,
        "s": RequestSummary.from_row(patient_request, day_in_paris()),
        "lists": [m for m in patient_request.messages if m.kind == "doctor_list"],
        "doctor_names": _doctor_names(session, caller, patient_request),
        "now": utcnow(),
    }
    return render(request, caller, "espace/request_print.html", context)


def refusal(exc: ApiError | ValidationError) -> str:
    """Why an action was refused, in one French sentence or two."""
    if isinstance(exc, ValidationError):
        return " ".join(french_message(e) for e in exc.errors())
    detail = " ".join(f.message for f in exc.fields if f.message not in exc.message)
    return f"{exc.message} {detail}".strip()


def act(session: Session, url: str, action: Callable[[], str]) -> Response:
    """Runs an action; its result, or why it was refused, is shown on the page at `url`.
    Another CPTS's object (404) and a refused role (403) stay error pages. A refused action
    leaves nothing behind (all_or_nothing); a done one is committed with the request, before
    the redirect is sent."""
    try:
        with all_or_nothing(session):
            message = action()
    except (NotFound, Forbidden):
        raise
    except (ApiError, ValidationError) as exc:
        return redirect(url, refusal(exc), "error")
    return redirect(url, message)


OFFER_LABELS = {
    "pending": "en attente de réponse",
    "accepted": "acceptée",
    "declined": "déclinée",
    "expired": "sans réponse dans le délai",
    "withdrawn": "retirée (un autre médecin a accepté)",
}
Offerer = Annotated[Caller, page_for(Action.OFFER_PATIENT)]


@router.post("/demandes/{request_id}/propositions")
def offer(
    request_id: DbId,
    request: Request,
    caller: Offerer,
    session: DbSession,
    doctor_ids: Annotated[list[int] | None, Form()] = None,
    offer_note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Offers the patient to the checked doctors (app/requests/offers.py)."""

    def do() -> str:
        patient_request = service.get_request(session, caller.principal, request_id)
        made = offers_service.offer_to_doctors(
            session,
            request.app.state.settings,
            public_base_url(request),
            caller.principal,
            patient_request,
            doctor_ids or [],
            offer_note.strip() or None,
        )
        return f"Patient proposé à {len(made)} médecin(s) : chacun reçoit son lien dans la minute."

    return act(session, f"/espace/demandes/{request_id}", do)


@router.post("/propositions-automatiques")
def automatic_offers(caller: Offerer, session: DbSession, mode: Annotated[str, Form(max_length=3)] = "") -> Response:
    """Switches the automatic offers of the CPTS the caller works in (app/requests/offers.py)."""

    def do() -> str:
        territory_id = caller.territory.id if caller.territory else None
        offers_service.set_automatic(session, caller.principal, territory_id, mode == "on")
        if mode == "on":
            return (
                "Propositions automatiques activées : chaque nouvelle demande est proposée au médecin le mieux classé."
            )
        return "Propositions automatiques désactivées."

    return act(session, "/espace/demandes", do)


def _channel(value: str) -> str | None:
    return value if value in ("sms", "email") else None


@router.post("/demandes/{request_id}/liste", response_class=HTMLResponse)
def send_list(
    request_id: DbId,
    request: Request,
    caller: Handler,
    session: DbSession,
    doctor_ids: Annotated[list[int] | None, Form()] = None,
    channel: Annotated[str, Form(max_length=10)] = "",
    action: Annotated[str, Form(max_length=10)] = "send",
) -> Response:
    """`action=preview` shows the message without sending it; `send` sends it."""
    url = f"/espace/demandes/{request_id}"
    if action == "preview":
        try:
            data = SendListIn(doctor_ids=doctor_ids or [], channel=_channel(channel))
            _, preview = compose_doctor_list(session, caller.principal, request_id, data)
        except (NotFound, Forbidden):
            raise
        except (ApiError, ValidationError) as exc:
            return redirect(url, refusal(exc), "error")
        return request_page(
            request, caller, session, request_id, preview=preview, chosen=doctor_ids or [], channel=preview.channel
        )

    def send() -> str:
        data = SendListIn(doctor_ids=doctor_ids or [], channel=_channel(channel))
        send_doctor_list(session, caller.principal, request_id, data)
        how = "par e-mail" if (data.channel or "") == "email" else "par SMS" if data.channel == "sms" else ""
        return f"Liste de {len(data.doctor_ids)} médecin(s) envoyée {how} : le message part dans la minute.".replace(
            "  ", " "
        )

    return act(session, url, send)


@router.post("/demandes/{request_id}/attribution")
def match(
    request_id: DbId,
    caller: Handler,
    session: DbSession,
    doctor_id: Annotated[DbId | None, Form()] = None,
    notify: Annotated[str | None, Form()] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def do() -> str:
        updated = service.transition(
            session,
            caller.principal,
            request_id,
            TransitionIn(to="matched", doctor_id=doctor_id, notify=notify is not None, note=note or None),
        )
        if updated.matched_doctor_id is None:  # the transition to matched always names the doctor
            raise NotFound("Médecin introuvable.")
        doctor = doctors_service.get_doctor(session, caller.principal, updated.matched_doctor_id)
        return (
            f"Médecin trouvé : Dr {doctor.given_name} {doctor.family_name} "
            f"(il lui reste {doctor.capacity_remaining} place(s))."
        )

    return act(session, f"/espace/demandes/{request_id}", do)


@router.post("/demandes/{request_id}/cloture")
def close(
    request_id: DbId,
    caller: Handler,
    session: DbSession,
    reason: Annotated[str, Form(max_length=30)] = "",
    notify: Annotated[str | None, Form()] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def do() -> str:
        service.transition(
            session,
            caller.principal,
            request_id,
            TransitionIn(to="closed", reason=reason or None, notify=notify is not None, note=note or None),
        )
        return "Demande close."

    return act(session, f"/espace/demandes/{request_id}", do)


@router.post("/demandes/{request_id}/fusion")
def merge(request_id: DbId, caller: Handler, session: DbSession) -> Response:
    """Closes this possible duplicate into the request it duplicates; the patient is not told.
    Back on the request that goes on."""
    try:
        with all_or_nothing(session):  # a refused merge leaves nothing behind
            kept = service.merge_duplicate(session, caller.principal, request_id)
    except (NotFound, Forbidden):
        raise
    except ApiError as exc:
        return redirect(f"/espace/demandes/{request_id}", refusal(exc), "error")
    message = (
        f"La demande n° {request_id} est fusionnée dans celle-ci et close comme doublon ; aucun message au patient."
    )
    return redirect(f"/espace/demandes/{kept.id}", message)


@router.post("/demandes/{request_id}/pas-un-doublon")
def not_a_duplicate(request_id: DbId, caller: Handler, session: DbSession) -> Response:
    def do() -> str:
        service.dismiss_duplicate(session, caller.principal, request_id)
        return "Ce n'est pas un doublon : la demande a désormais sa propre ligne dans la file."

    return act(session, f"/espace/demandes/{request_id}", do)


# What a patient reached by phone said (app/requests/outcomes.py): the form's word → the fact.
PHONE_CONFIRMATIONS = {"premier-rendez-vous": "first_visit", "declaration": "declared"}


@router.post("/demandes/{request_id}/suivi-du-patient")
def confirm_by_phone(
    request_id: DbId, caller: Handler, session: DbSession, etape: Annotated[str, Form(max_length=30)] = ""
) -> Response:
    def do() -> str:
        patient_request = service.get_request(session, caller.principal, request_id)
        what = PHONE_CONFIRMATIONS.get(etape)
        if what is None:
            message = "Choisissez ce que le patient confirme."
            raise Unprocessable(message, fields=[FieldError(field="etape", message=message)])
        if not outcomes.confirm(
            session, patient_request, what, utcnow(), caller.principal.client_address, caller.principal
        ):
            raise Conflict("Rien de nouveau : déjà noté, ou la demande n'a pas de médecin trouvé.")
        return "Noté : " + ("premier rendez-vous confirmé." if what == "first_visit" else "médecin traitant déclaré.")

    return act(session, f"/espace/demandes/{request_id}#suivi-du-patient", do)


@router.post("/demandes/{request_id}/notes")
def add_note(
    request_id: DbId, caller: Handler, session: DbSession, text: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    def do() -> str:
        service.add_note(session, caller.principal, request_id, NoteIn(text=text.strip()))
        return "Note ajoutée."

    return act(session, f"/espace/demandes/{request_id}#historique", do)

"""The patient's private follow-up page: where the request stands, in plain French; and, from
there, withdrawing the request or erasing it (each after a confirmation step). The link is the
proof: whoever holds it is the person who submitted the request."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.core.database import utcnow
from app.core.dependencies import DbSession
from app.core.identifiers import french_phone
from app.privacy import rights
from app.requests import outcomes
from app.requests.messages import matched_doctor_lines
from app.requests.models import OPEN_STATUSES, PatientRequest, RequestStatus
from app.requests.service import by_follow_up_link
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
# What each choice does, said before the person confirms it.
CHOICES = {
    "retrait": {
        "title": "Retirer ma demande",
        "explanation": (
            "Votre demande sera close : la coordination ne vous cherchera plus de médecin traitant et ne vous "
            "contactera plus. Vos données sont ensuite effacées au bout de {months} mois ; vous pouvez aussi "
            "demander leur effacement dès maintenant depuis cette page."
        ),
        "button": "Oui, retirer ma demande",
    },
    "effacement": {
        "title": "Effacer mes données",
        "explanation": (
            "Vos nom, prénom, date de naissance, téléphone, e-mail, adresse et commentaire, ainsi que les messages "
            "que nous vous avons envoyés, seront effacés tout de suite et définitivement. Si votre demande est en "
            "cours, elle sera close : la coordination ne pourra plus vous contacter. Seuls restent, sans votre "
            "nom, des chiffres anonymes pour les statistiques de la CPTS (commune, tranche d’âge, dates). "
            "Ce lien ne fonctionnera plus."
        ),
        "button": "Oui, effacer mes données",
    },
}


# A request merged into another one of the same patient: that one goes on.
DUPLICATE_TEXT = "Cette demande a été réunie avec une autre demande à votre nom, qui suit son cours."


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _status_page(
    request: Request, session: Session, patient_request: PatientRequest, notice: str | None = None
) -> HTMLResponse:
    territory = patient_request.territory
    context = {
        # Matched: the doctor, its practice and how to book the first appointment (as the message said).
        "doctor": matched_doctor_lines(session, patient_request),
        "given_name": patient_request.given_name,
        "status_text": DUPLICATE_TEXT
        if patient_request.close_reason == "duplicate"
        else STATUS_TEXT[patient_request.status],
        "since": patient_request.updated_at,
        "territory_name": territory.name if territory else None,
        "territory_phone": french_phone(territory.phone) if territory else None,
        "is_open": RequestStatus(patient_request.status) in OPEN_STATUSES,
        "token": request.path_params["token"],
        "notice": notice,
        # Closing the loop (app/requests/outcomes.py): two taps, once matched.
        "may_confirm": outcomes.may_confirm(patient_request),
        "first_visit_at": patient_request.first_visit_confirmed_at,
        "declared_at": patient_request.declared_confirmed_at,
    }
    return templates.TemplateResponse(request, "follow_up.html", context)


def _invalid(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "link_invalid.html", {"expired": False}, status_code=404)


@router.get("/suivi/{token}", response_class=HTMLResponse)
def follow_up(token: str, request: Request, session: DbSession) -> HTMLResponse:
    patient_request = by_follow_up_link(session, token)
    if patient_request is None:
        return _invalid(request)
    return _status_page(request, session, patient_request)


# The two taps of closing the loop: the path's word → what is confirmed.
CONFIRMATIONS = {"premier-rendez-vous": "first_visit", "declaration": "declared"}
CONFIRMED_NOTICE = {
    "first_visit": "Merci : votre premier rendez-vous est noté.",
    "declared": "Merci : nous notons que ce médecin est votre médecin traitant déclaré.",
}
SURVEY_FIELDS = {
    "satisfaction": (
        "Êtes-vous satisfait(e) de l'aide de la CPTS pour trouver un médecin traitant ?",
        outcomes.SATISFACTION,
    ),
    "delay": ("Le temps qu'il a fallu pour trouver un médecin vous a paru :", outcomes.DELAY),
    "recommend": ("Conseilleriez-vous ce service à un proche sans médecin traitant ?", outcomes.RECOMMEND),
}


@router.post("/suivi/{token}/confirmer/{step}", response_class=HTMLResponse)
def confirm(token: str, step: str, request: Request, session: DbSession) -> HTMLResponse:
    """A tap: the first appointment took place, or the doctor declared the patient."""
    patient_request = by_follow_up_link(session, token)
    if patient_request is None or step not in CONFIRMATIONS:
        return _invalid(request)
    what = CONFIRMATIONS[step]
    done = outcomes.confirm(session, patient_request, what, utcnow(), _client(request))
    notice = CONFIRMED_NOTICE[what] if done else "C'était déjà noté : merci."
    if not outcomes.may_confirm(patient_request):
        notice = "Votre demande n'a pas de médecin trouvé par la CPTS : rien à confirmer."
    return _status_page(request, session, patient_request, notice)


def _survey_page(
    request: Request, token: str, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> HTMLResponse:
    context = {"token": token, "questions": SURVEY_FIELDS, "v": values, "field_errors": errors}
    return templates.TemplateResponse(request, "follow_up_survey.html", context, status_code=status_code)


@router.get("/suivi/{token}/avis", response_class=HTMLResponse)
def survey(token: str, request: Request, session: DbSession) -> HTMLResponse:
    patient_request = by_follow_up_link(session, token)
    if patient_request is None:
        return _invalid(request)
    if outcomes.open_survey(session, patient_request, utcnow()) is None:
        return _status_page(request, session, patient_request, "Pas de questionnaire en attente pour vous : merci.")
    return _survey_page(request, token, {}, {})


@router.post("/suivi/{token}/avis", response_class=HTMLResponse)
def answer_survey(
    token: str,
    request: Request,
    session: DbSession,
    satisfaction: Annotated[str, Form(max_length=10)] = "",
    delay: Annotated[str, Form(max_length=10)] = "",
    recommend: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    patient_request = by_follow_up_link(session, token)
    if patient_request is None:
        return _invalid(request)
    now = utcnow()
    found = outcomes.open_survey(session, patient_request, now)
    if found is None:
        return _status_page(request, session, patient_request, "Pas de questionnaire en attente pour vous : merci.")
    values = {"satisfaction": satisfaction, "delay": delay, "recommend": recommend}
    errors = {
        field: "Choisissez une réponse."
        for field, (_, choices) in SURVEY_FIELDS.items()
        if values[field] not in choices
    }
    if errors:
        return _survey_page(request, token, values, errors, 422)
    outcomes.answer_survey(session, patient_request, found, values, now)
    return _status_page(
        request, session, patient_request, "Merci pour vos réponses : elles sont enregistrées sans votre nom."
    )


@router.post("/suivi/{token}/{choice}", response_class=HTMLResponse)
def choose(
    token: str,
    choice: str,
    request: Request,
    session: DbSession,
    confirm: Annotated[str, Form(max_length=3)] = "",
) -> HTMLResponse:
    """`retrait` or `effacement`: without `confirm=yes`, the page saying what will happen."""
    patient_request = by_follow_up_link(session, token)
    if patient_request is None or choice not in CHOICES:
        return _invalid(request)
    if confirm != "yes":
        months = request.app.state.settings.retention_abandoned_request_months
        texts = CHOICES[choice]
        context = {"token": token, "choice": choice, **texts, "explanation": texts["explanation"].format(months=months)}
        return templates.TemplateResponse(request, "follow_up_confirm.html", context)
    if choice == "retrait":
        done = rights.withdraw(session, patient_request, _client(request))
        session.expire_all()
        notice = "Votre demande est retirée." if done else "Votre demande n'était plus en cours : rien à retirer."
        return _status_page(request, session, by_follow_up_link(session, token) or patient_request, notice)
    territory = patient_request.territory
    erased_by = {"territory_name": territory.name if territory else None}
    rights.erase_own(session, patient_request, _client(request))
    return templates.TemplateResponse(request, "follow_up_erased.html", erased_by)

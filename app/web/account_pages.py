"""Accounts in the workspace: a coordinator invites, edits, deactivates and reactivates the
accounts of its CPTS (an admin: any account, and the CPTS themselves); everybody manages its
own password, sessions and API tokens (`/espace/mon-compte`)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.accounts import second_factor
from app.accounts import service as accounts
from app.accounts.models import Role
from app.accounts.policy import Action, may_change_account, may_create_account, works_in_every_cpts
from app.accounts.schemas import Invitation, UserUpdate
from app.core.dependencies import Communes, DbSession
from app.core.errors import FieldError, Unprocessable
from app.core.inputs import DbId
from app.core.links import public_base_url
from app.requests import sources
from app.territories import service as territories_service
from app.territories.schemas import TerritoryCreate
from app.web.pages import render
from app.web.request_pages import act
from app.web.session import AnyCaller, Caller, page_for, redirect

router = APIRouter(prefix="/espace", include_in_schema=False)
Manager = Annotated[Caller, page_for(Action.MANAGE_ACCOUNTS)]
TerritoryAdmin = Annotated[Caller, page_for(Action.MANAGE_TERRITORIES)]

ACCOUNTS = "/espace/comptes"
MY_ACCOUNT = "/espace/mon-compte"
TERRITORIES = "/espace/cpts-du-deploiement"


def _roles_for(caller: Caller) -> list[Role]:
    """The roles the caller may give (never an admin for a coordinator); regulators come from the SAS."""
    territory_ids = {caller.territory.id} if caller.territory else set()
    return [
        r
        for r in (Role.PROFESSIONAL, Role.CPAM, Role.SECRETARIAT, Role.DOCTOR, Role.COORDINATOR, Role.ADMIN)
        if may_create_account(caller.principal, r, territory_ids)
    ]


def _organisations(session, caller: Caller) -> list:
    return [s for s, _ in sources.visible_sources(session, caller.principal, caller.cpts)]


@router.get("/comptes", response_class=HTMLResponse)
def account_list(request: Request, caller: Manager, session: DbSession) -> HTMLResponse:
    users = [u for u in accounts.list_users(session, caller.principal) if Role(u.role) is not Role.REGULATOR]
    every_cpts = works_in_every_cpts(caller.principal)
    if caller.territory is not None and not every_cpts:
        users = [u for u in users if caller.territory.id in u.territory_ids]
    return render(
        request,
        caller,
        "espace/accounts.html",
        {
            "users": users,
            "changeable": {u.id for u in users if may_change_account(caller.principal, Role(u.role))},
            "every_cpts": every_cpts,
            "roles": _roles_for(caller),
            "organisations": _organisations(session, caller),
        },
    )


@router.post("/comptes")
def invite(
    request: Request,
    caller: Manager,
    session: DbSession,
    email: Annotated[str, Form(max_length=254)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "professional",
    organisation: Annotated[str, Form(max_length=64)] = "",
    doctor_rpps: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The account joins the CPTS the caller works in; its owner is e-mailed a link."""

    def do() -> str:
        data = Invitation(
            email=email.strip(),
            display_name=display_name.strip(),
            role=role,
            cpts=[caller.cpts] if caller.cpts and role != Role.ADMIN.value else [],
            organisation=organisation or None,
            doctor_rpps=doctor_rpps.strip() or None,
        )
        user = accounts.invite_user(
            session, request.app.state.settings, public_base_url(request), data, caller.principal
        )
        return f"Invitation envoyée à {user.email} : le lien pour choisir un mot de passe lui parvient par e-mail."

    return act(session, ACCOUNTS, do)


@router.get("/comptes/{user_id}", response_class=HTMLResponse)
def account_page(user_id: DbId, request: Request, caller: Manager, session: DbSession) -> HTMLResponse:
    user = accounts.managed_user(session, caller.principal, user_id)
    return render(
        request,
        caller,
        "espace/account.html",
        {
            "user": user,
            "roles": _roles_for(caller),
            "organisations": _organisations(session, caller),
            "invited": user.password_hash is None,
            "enrolled": second_factor.enrolled(user),
        },
    )


@router.post("/comptes/{user_id}")
def edit(
    user_id: DbId,
    caller: Manager,
    session: DbSession,
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "professional",
    organisation: Annotated[str, Form(max_length=64)] = "",
    doctor_rpps: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    def do() -> str:
        data = UserUpdate(
            display_name=display_name.strip(),
            role=role,
            organisation=organisation or None,
            doctor_rpps=doctor_rpps.strip() or None,
        )
        user = accounts.update_user(session, caller.principal, user_id, data)
        return f"Compte de {user.display_name} enregistré."

    return act(session, f"{ACCOUNTS}/{user_id}", do)


@router.post("/comptes/{user_id}/desactiver")
def deactivate(user_id: DbId, caller: Manager, session: DbSession) -> Response:
    def do() -> str:
        user = accounts.set_user_active(session, caller.principal, user_id, False)
        if user.active:
            return f"{user.display_name} ne fait plus partie de votre CPTS (son compte reste ouvert ailleurs)."
        return f"Compte de {user.display_name} désactivé : ses sessions sont fermées."

    return act(session, ACCOUNTS, do)


@router.post("/comptes/{user_id}/reactiver")
def reactivate(user_id: DbId, caller: Manager, session: DbSession) -> Response:
    def do() -> str:
        user = accounts.set_user_active(session, caller.principal, user_id, True)
        return f"Compte de {user.display_name} réactivé."

    return act(session, f"{ACCOUNTS}/{user_id}", do)


@router.post("/comptes/{user_id}/invitation")
def resend(user_id: DbId, request: Request, caller: Manager, session: DbSession) -> Response:
    def do() -> str:
        user = accounts.resend_invitation(
            session, request.app.state.settings, public_base_url(request), caller.principal, user_id
        )
        return f"Nouvelle invitation envoyée à {user.email}."

    return act(session, f"{ACCOUNTS}/{user_id}", do)


@router.post("/comptes/{user_id}/second-facteur")
def reset_second_factor(user_id: DbId, caller: Manager, session: DbSession) -> Response:
    def do() -> str:
        user = accounts.reset_second_factor(session, caller.principal, user_id)
        return f"Second facteur de {user.display_name} retiré : il en activera un nouveau à sa prochaine connexion."

    return act(session, f"{ACCOUNTS}/{user_id}", do)


# One's own account -----------------------------------------------------------------------------


@router.get("/mon-compte", response_class=HTMLResponse)
def my_account(request: Request, caller: AnyCaller, session: DbSession) -> HTMLResponse:
    user = accounts.current_user(session, caller.principal)
    return render(
        request,
        caller,
        "espace/my_account.html",
        {
            "user": user,
            "sessions": accounts.list_sessions(session, caller.principal),
            "tokens": accounts.list_tokens(session, caller.principal),
            "enrolled": second_factor.enrolled(user),
            "recovery_left": second_factor.remaining_recovery_codes(session, user),
            "new_token": None,
        },
    )


@router.post("/mon-compte/mot-de-passe")
def change_password(
    caller: AnyCaller,
    session: DbSession,
    current_password: Annotated[str, Form(max_length=500)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    confirmation: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def do() -> str:
        if password != confirmation:
            message = "Les deux saisies du nouveau mot de passe ne sont pas identiques."
            raise Unprocessable(message, fields=[FieldError(field="confirmation", message=message)])
        accounts.change_password(session, caller.principal, current_password, password)
        return "Mot de passe changé : vos autres sessions sont fermées."

    return act(session, MY_ACCOUNT, do)


@router.post("/mon-compte/sessions/{session_id}/fermer")
def end_session(session_id: DbId, caller: AnyCaller, session: DbSession) -> Response:
    def do() -> str:
        accounts.revoke_session(session, caller.principal, session_id)
        return "Session fermée."

    if session_id == caller.web_session_id:
        return redirect(MY_ACCOUNT, "Pour fermer cette session-ci, déconnectez-vous.", "error")
    return act(session, MY_ACCOUNT, do)


@router.post("/mon-compte/jetons", response_class=HTMLResponse)
def new_token(
    request: Request, caller: AnyCaller, session: DbSession, name: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """A personal API token, shown once on the page that answers."""
    if not name.strip():
        return redirect(MY_ACCOUNT, "Donnez un nom au jeton (à quoi il sert).", "error")
    secret, _ = accounts.create_token(session, caller.principal, name.strip())
    user = accounts.current_user(session, caller.principal)
    return render(
        request,
        caller,
        "espace/my_account.html",
        {
            "user": user,
            "sessions": accounts.list_sessions(session, caller.principal),
            "tokens": accounts.list_tokens(session, caller.principal),
            "enrolled": second_factor.enrolled(user),
            "recovery_left": second_factor.remaining_recovery_codes(session, user),
            "new_token": secret,
        },
    )


@router.post("/mon-compte/jetons/{token_id}/revoquer")
def revoke_token(token_id: DbId, caller: AnyCaller, session: DbSession) -> Response:
    def do() -> str:
        token = accounts.revoke_token(session, caller.principal, token_id)
        return f"Jeton « {token.name} » révoqué."

    return act(session, MY_ACCOUNT, do)


# The CPTS of the deployment (admins) -----------------------------------------------------------


@router.get("/cpts-du-deploiement", response_class=HTMLResponse)
def territory_list(request: Request, caller: TerritoryAdmin, session: DbSession) -> HTMLResponse:
    return render(
        request, caller, "espace/territories.html", {"territories": territories_service.list_territories(session)}
    )


@router.post("/cpts-du-deploiement")
def create_territory(
    caller: TerritoryAdmin,
    session: DbSession,
    communes: Communes,
    slug: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    finess: Annotated[str, Form(max_length=20)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    insee_codes: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """A new CPTS; its coordinators are then invited from "Comptes", working in it."""

    def do() -> str:
        codes = [c for c in insee_codes.replace(",", " ").split() if c]
        data = TerritoryCreate(
            slug=slug.strip(), name=name.strip(), finess=finess.strip(), phone=phone, email=email, communes=codes
        )
        territory = territories_service.create_territory(session, data, communes)
        return f"{territory.name} créée : invitez ses coordinateurs depuis « Comptes » en travaillant pour elle."

    return act(session, TERRITORIES, do)

"""What every workspace page shares: rendering with the layout's context, and errors
answered as French pages (not JSON) under `/espace`."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import HTTPExceptionHandler

from app.accounts.models import Role
from app.accounts.policy import Action, allows
from app.accounts.principal import SecondFactorRequired
from app.core.errors import ApiError, Unauthorized, field_errors_from_validation
from app.web import labels
from app.web.labels import CLOSE_REASONS, GROUP_BADGES, STATUS_LABELS
from app.web.session import (
    FLASH_COOKIE,
    Caller,
    SignInRequired,
    redirect,
    second_factor_url,
    sign_in_url,
    take_flash,
)
from app.web.templates import templates

PREFIX = "/espace"

# The navigation: (path, label, the action it serves, and the action whose holders reach that
# page otherwise); each caller sees the entries its role may use (app.accounts.policy).
NAVIGATION: list[tuple[str, str, Action, Action | None]] = [
    ("/espace/demandes", "Demandes", Action.HANDLE_REQUESTS, None),
    ("/espace/medecins", "Médecins", Action.MANAGE_DOCTORS, None),
    ("/espace/territoire", "Territoire", Action.READ_TERRITORY, None),
    ("/espace/annuaire", "Annuaire", Action.IMPORT_DIRECTORY, None),
    # A doctor's board is "Mes créneaux", below.
    ("/espace/soins-non-programmes", "Soins non programmés", Action.SEE_SLOTS, Action.EDIT_OWN_PRACTICE),
    # The coordination reaches the search from the board; the secretariat works from it.
    ("/espace/soins-non-programmes/recherche", "Réserver pour un appelant", Action.SEARCH_SLOTS, Action.MANAGE_SLOTS),
    ("/espace/appels", "Appels", Action.LOG_CALL, None),
    ("/espace/sources", "Sources et affiches", Action.MANAGE_SOURCES, None),
    ("/espace/indicateurs", "Indicateurs", Action.READ_INDICATORS, None),
    ("/espace/journal", "Journal d'audit", Action.READ_AUDIT, None),
    ("/espace/personnes", "Droits des personnes", Action.EXERCISE_RIGHTS, None),
    ("/espace/mes-demandes", "Mes demandes", Action.LIST_OWN_SUBMISSIONS, None),
    ("/espace/mes-demandes/nouvelle", "Nouvelle demande", Action.LIST_OWN_SUBMISSIONS, None),
    ("/espace/mon-cabinet", "Mon cabinet", Action.EDIT_OWN_PRACTICE, None),
    ("/espace/soins-non-programmes", "Mes créneaux", Action.EDIT_OWN_PRACTICE, None),
    ("/espace/comptes", "Comptes", Action.MANAGE_ACCOUNTS, None),
    ("/espace/cpts-du-deploiement", "CPTS", Action.MANAGE_TERRITORIES, None),
]


def navigation_of(role: Role) -> list[tuple[str, str]]:
    return [
        (path, label)
        for path, label, action, unless in NAVIGATION
        if allows(role, action) and not (unless is not None and allows(role, unless))
    ]


def home_of(role: Role) -> str:
    for action, home in (
        (Action.HANDLE_REQUESTS, "/espace/demandes"),
        (Action.LIST_OWN_SUBMISSIONS, "/espace/mes-demandes"),
        (Action.EDIT_OWN_PRACTICE, "/espace/mon-cabinet"),
        (Action.SEARCH_SLOTS, "/espace/soins-non-programmes/recherche"),
    ):
        if allows(role, action):
            return home
    return "/espace/accueil"


def render(
    request: Request,
    caller: Caller | None,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    flash = take_flash(request)
    full = {
        "caller": caller,
        "flash": flash,
        "csrf_token": caller.csrf_token if caller else None,
        "navigation": navigation_of(caller.role) if caller else [],
        "current_path": request.url.path,
        "status_labels": STATUS_LABELS,
        "close_reasons": CLOSE_REASONS,
        "group_badges": GROUP_BADGES,
        "labels": labels,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/espace")
    return response


def _error_page(request: Request, status_code: int, message: str, fields=()) -> HTMLResponse:
    titles = {
        403: "Accès refusé",
        404: "Page introuvable",
        409: "Action impossible",
        422: "Valeurs invalides",
        429: "Trop de tentatives",
        503: "Service momentanément indisponible",
    }
    context = {
        "title": titles.get(status_code, "Erreur"),
        "message": message,
        "fields": list(fields),
        "status_code": status_code,
    }
    return render(request, None, "espace/error.html", context, status_code=status_code)


def _http_error_page(request: Request, status_code: int) -> HTMLResponse:
    if status_code == 400:  # a form Starlette could not read: invalid input (see app/core/errors.py)
        return _error_page(request, 422, "Le formulaire envoyé est illisible.")
    message = {404: "Cette page n'existe pas.", 405: "Action non autorisée sur cette page."}.get(
        status_code, "La demande n'a pas pu aboutir."
    )
    return _error_page(request, status_code, message)


def _next_path(request: Request) -> str | None:
    """Where to come back after signing in or the second factor: the page asked, if it was one."""
    if request.method != "GET":
        return None
    return f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path


def install_page_errors(app: FastAPI) -> None:
    """Under /espace, errors are pages; elsewhere the API's JSON handlers answer as before."""
    api_error = app.exception_handlers[ApiError]
    validation_error = app.exception_handlers[RequestValidationError]
    http_error = app.exception_handlers[StarletteHTTPException]

    async def answer(handler: HTTPExceptionHandler, request: Request, exc: Exception) -> Response:
        """What the API's handler answers (Starlette types handlers as sync or async)."""
        response = handler(request, exc)
        return response if isinstance(response, Response) else await response

    def is_page(request: Request) -> bool:
        return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if not is_page(request):
            return await answer(api_error, request, exc)
        if isinstance(exc, Unauthorized):
            next_path = _next_path(request)
            expired = isinstance(exc, SignInRequired) and exc.expired
            return redirect(sign_in_url(next_path, expired))
        if isinstance(exc, SecondFactorRequired) and "authorization" not in request.headers:
            # A browser's session is sent to give it; a token (which cannot) gets the 403 page.
            return redirect(second_factor_url(_next_path(request)))
        response = _error_page(request, exc.status_code, exc.message, exc.fields)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        if not is_page(request):
            return await answer(validation_error, request, exc)
        fields = field_errors_from_validation(list(exc.errors()))
        return _error_page(request, 422, "Certaines valeurs de l'adresse ou du formulaire sont invalides.", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_page(request):
            return await answer(http_error, request, exc)
        return _http_error_page(request, exc.status_code)

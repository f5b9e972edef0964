"""A person's rights in the workspace (`/espace/personnes`): find a person's records, hand
them over (a printable page, a JSON file), correct a request, erase them now. The rules are
app.privacy.rights'; these pages read the forms and show the results. The person is named in
the forms' bodies, never in a URL."""

import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.accounts.policy import Action
from app.core.database import all_or_nothing
from app.core.dependencies import DbSession
from app.core.errors import ApiError, Forbidden, NotFound
from app.core.inputs import DbId
from app.privacy import rights
from app.privacy.schemas import PersonQuery, PersonRecords, RectifyIn
from app.web.pages import render
from app.web.request_pages import refusal
from app.web.session import Caller, page_for, redirect

router = APIRouter(prefix="/espace", include_in_schema=False)
PAGE = "/espace/personnes"

Text = Annotated[str, Form(max_length=254)]
Manager = Annotated[Caller, page_for(Action.EXERCISE_RIGHTS)]


@dataclass(frozen=True)
class PersonForm:
    """Who the coordinator is looking for, as the search, export and erase forms all send it."""

    phone: str
    email: str
    family_name: str
    given_name: str
    birth_date: str

    def values(self) -> dict[str, str]:
        return asdict(self)

    def query(self) -> PersonQuery:
        # Empty fields are absent; pydantic parses the birth date's text.
        return PersonQuery(**{name: value.strip() or None for name, value in asdict(self).items()})


def person_form(
    phone: Text = "",
    email: Text = "",
    family_name: Text = "",
    given_name: Text = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
) -> PersonForm:
    return PersonForm(phone, email, family_name, given_name, birth_date)


Person = Annotated[PersonForm, Depends(person_form)]


def _territory_id(caller: Caller) -> int | None:
    return caller.territory.id if caller.territory else None


def _page(
    request: Request, caller: Caller, form: dict, *, records: PersonRecords | None = None, error=None, status=200
):
    context = {"form": form, "records": records, "error": error}
    return render(request, caller, "espace/persons.html", context, status)


@router.get("/personnes", response_class=HTMLResponse)
def persons(request: Request, caller: Manager) -> HTMLResponse:
    return _page(request, caller, PersonForm("", "", "", "", "").values())


@router.post("/personnes", response_class=HTMLResponse)
def find(
    request: Request,
    caller: Manager,
    session: DbSession,
    person: Person,
) -> HTMLResponse:
    form = person.values()
    try:
        records = rights.search(
            session,
            caller.principal,
            person.query(),
            _territory_id(caller),
        )
    except (NotFound, Forbidden):
        raise
    except (ApiError, ValidationError) as exc:
        return _page(request, caller, form, error=refusal(exc), status=422)
    return _page(request, caller, form, records=records)


@router.post("/personnes/export", response_model=None)
def export(
    request: Request,
    caller: Manager,
    session: DbSession,
    person: Person,
    format: Annotated[str, Form(max_length=4)] = "html",
) -> Response:
    """The right of access: a printable page (`html`) or a JSON file (`json`)."""
    form = person.values()
    try:
        records = rights.export(
            session,
            caller.principal,
            person.query(),
            _territory_id(caller),
        )
    except (NotFound, Forbidden):
        raise
    except (ApiError, ValidationError) as exc:
        return _page(request, caller, form, error=refusal(exc), status=422)
    name = rights.export_filename(records.searched_at)
    if format == "json":
        body = json.dumps(records.model_dump(mode="json"), ensure_ascii=False, indent=2)
        return Response(
            body,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    return render(request, caller, "espace/person_export.html", {"records": records, "today": date.today()})


@router.post("/personnes/effacer")
def erase(
    request: Request,
    caller: Manager,
    session: DbSession,
    person: Person,
    confirm: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    form = person.values()
    try:
        query = person.query()
        if confirm != "yes":  # the records again, with the reason
            records = rights.search(session, caller.principal, query, _territory_id(caller))
            message = "Cochez la case de confirmation pour effacer les données de cette personne."
            return _page(request, caller, form, records=records, error=message, status=422)
        result = rights.erase(session, caller.principal, query, _territory_id(caller))
    except (NotFound, Forbidden):
        raise
    except (ApiError, ValidationError) as exc:
        return _page(request, caller, form, error=refusal(exc), status=422)
    return redirect(PAGE, result.message)


@router.post("/personnes/demandes/{request_id}/rectifier")
def rectify(
    request_id: DbId,
    caller: Manager,
    session: DbSession,
    family_name: Annotated[str, Form(max_length=100)] = "",
    given_name: Annotated[str, Form(max_length=100)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    address: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Fields left empty stay as they are (an e-mail or an address is removed by the API)."""
    values = {
        "family_name": family_name,
        "given_name": given_name,
        "birth_date": birth_date,
        "phone": phone,
        "email": email,
        "address": address,
    }
    url = f"/espace/demandes/{request_id}"
    try:
        data = RectifyIn(**{k: v.strip() for k, v in values.items() if v.strip()})
        with all_or_nothing(session):  # a refused correction leaves nothing behind
            rights.rectify(session, caller.principal, request_id, data)
    except (NotFound, Forbidden):
        raise
    except (ApiError, ValidationError) as exc:
        return redirect(url, refusal(exc), "error")
    return redirect(url, "Données rectifiées.")

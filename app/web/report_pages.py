"""Sources and flyers, indicators (with charts and a CSV export), and the audit trail."""

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.accounts.policy import Action
from app.audit.service import list_events
from app.calls.models import CALLERS, REASONS
from app.calls.models import OUTCOMES as CALL_OUTCOMES
from app.core import spreadsheet
from app.core.dependencies import DbSession
from app.core.errors import FieldError, Unprocessable, field_errors_from_validation
from app.core.inputs import BoundedDate, DbId
from app.core.links import public_base_url
from app.requests import reporting, sources
from app.requests import service as requests_service
from app.requests.outcomes import DELAY, RECOMMEND, SATISFACTION
from app.requests.sources import SourceCreate, SourceUpdate
from app.snp.models import AGE_BANDS, HAS_DOCTOR, REPORT_COLUMNS
from app.web.labels import CLOSE_REASONS, OBJECT_TYPES, SOURCE_KINDS
from app.web.pages import render
from app.web.request_pages import act
from app.web.session import Caller, page_for, redirect

SOURCE_LABELS = {"name": "Nom du lieu", "kind": "Type", "details": "Précisions"}

SourceManager = Annotated[Caller, page_for(Action.MANAGE_SOURCES)]
IndicatorReader = Annotated[Caller, page_for(Action.READ_INDICATORS)]
AuditReader = Annotated[Caller, page_for(Action.READ_AUDIT)]

router = APIRouter(prefix="/espace", include_in_schema=False)


@router.get("/sources", response_class=HTMLResponse)
def source_list(request: Request, caller: SourceManager, session: DbSession) -> HTMLResponse:
    public_url = public_base_url(request)
    listed = sources.visible_sources(session, caller.principal, caller.cpts)
    rows = [{"source": s, "count": n, "url": sources.form_url(public_url, s)} for s, n in listed if not s.retired]
    context = {
        "rows": rows,
        "retired": [{"source": s, "count": n} for s, n in listed if s.retired],
        "kinds": SOURCE_KINDS,
    }
    return render(request, caller, "espace/sources.html", context)


@router.post("/sources")
def create_source(
    caller: SourceManager,
    session: DbSession,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "other",
) -> Response:
    def do() -> str:
        source = sources.create_source(
            session, caller.principal, SourceCreate(cpts=caller.cpts or "", name=name.strip(), kind=kind)
        )
        return f"Source « {source.name} » créée : imprimez son affiche ou téléchargez son QR code."

    return act(session, "/espace/sources", do)


def _source_page(
    request: Request, caller: Caller, source, values: dict | None = None, errors=(), status_code: int = 200
) -> HTMLResponse:
    context = {
        "source": source,
        "v": values or {"name": source.name, "kind": source.kind, "details": source.details or ""},
        "errors": list(errors),
        "field_errors": {e.field: e.message for e in errors},
        "kinds": SOURCE_KINDS,
        "url": sources.form_url(public_base_url(request), source),
    }
    return render(request, caller, "espace/source.html", context, status_code)


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(source_id: DbId, request: Request, caller: SourceManager, session: DbSession) -> HTMLResponse:
    return _source_page(request, caller, sources.get_source(session, caller.principal, source_id))


@router.post("/sources/{source_id}", response_class=HTMLResponse)
def save_source(
    source_id: DbId,
    request: Request,
    caller: SourceManager,
    session: DbSession,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "other",
    details: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    source = sources.get_source(session, caller.principal, source_id)  # 404 outside the caller's CPTS
    values = {"name": name.strip(), "kind": kind, "details": details.strip()}
    try:
        data = SourceUpdate.model_validate(values)
    except ValidationError as exc:
        return _source_page(
            request, caller, source, values, field_errors_from_validation(exc.errors(), SOURCE_LABELS), 422
        )
    sources.update_source(session, caller.principal, source_id, data)
    return redirect(f"/espace/sources/{source_id}", f"Source « {data.name} » enregistrée ; son QR code ne change pas.")


@router.post("/sources/{source_id}/retirer")
def retire_source(source_id: DbId, caller: SourceManager, session: DbSession) -> Response:
    def do() -> str:
        source = sources.retire_source(session, caller.principal, source_id)
        return (
            f"Source « {source.name} » retirée : son QR code ouvre désormais une page qui annonce la fin de la "
            "campagne et mène au questionnaire ; ses demandes passées restent comptées."
        )

    return act(session, "/espace/sources", do)


# Indicators ---------------------------------------------------------------------------------

# The yearly questionnaire's figures: question → (short label, choices).
SURVEY_QUESTIONS = {
    "satisfaction": ("aide de la CPTS,", SATISFACTION),
    "delay": ("délai jugé", DELAY),
    "recommend": ("conseillerait le service,", RECOMMEND),
}


def _days(figures: reporting.Indicators, step: str) -> object:
    value = figures["outcomes"][f"median_days_{step}"]  # type: ignore[literal-required]  # the three medians' keys
    return value if value is not None else "—"


def _funnel_days(figures: reporting.Indicators, step: str) -> object:
    value = figures["funnel"][f"median_days_{step}"]  # type: ignore[literal-required]  # the medians' keys
    return value if value is not None else "—"


ROWS: list[tuple[str, Callable[[reporting.Indicators], object]]] = [
    ("Demandes reçues (dans le territoire)", lambda i: i["requests"]["received"]),
    ("… dont ALD", lambda i: i["received_by_group"]["ald"]),
    ("… dont 70 ans et plus", lambda i: i["received_by_group"]["age_70"]),
    ("… dont CSS / AME", lambda i: i["received_by_group"]["css"]),
    ("… … dont CSS (complémentaire santé solidaire)", lambda i: i["received_by_group"]["css_yes"]),
    ("… … dont AME (aide médicale de l'État)", lambda i: i["received_by_group"]["ame_yes"]),
    ("… … dont CSS ou AME, sans savoir laquelle", lambda i: i["received_by_group"]["css_or_ame_unknown_which"]),
    ("Hors territoire", lambda i: i["requests"]["out_of_territory"]),
    ("Liste envoyée, en attente de réponse", lambda i: i["requests"]["proposed"]),
    ("Patients orientés (médecin trouvé)", lambda i: i["requests"]["matched"]),
    ("… dont ALD", lambda i: i["matched_by_group"]["ald"]),
    ("… dont 70 ans et plus", lambda i: i["matched_by_group"]["age_70"]),
    ("… dont CSS / AME", lambda i: i["matched_by_group"]["css"]),
    ("… … dont CSS (complémentaire santé solidaire)", lambda i: i["matched_by_group"]["css_yes"]),
    ("… … dont AME (aide médicale de l'État)", lambda i: i["matched_by_group"]["ame_yes"]),
    ("… … dont CSS ou AME, sans savoir laquelle", lambda i: i["matched_by_group"]["css_or_ame_unknown_which"]),
    # The funnel in requests (reporting._funnel): each request once, however many offers it had.
    ("Demandes proposées à au moins un médecin", lambda i: i["funnel"]["offered"]),
    ("… dont ALD", lambda i: i["funnel"]["offered_by_group"]["ald"]),
    ("… dont 70 ans et plus", lambda i: i["funnel"]["offered_by_group"]["age_70"]),
    ("… dont CSS / AME", lambda i: i["funnel"]["offered_by_group"]["css"]),
    ("Médecin trouvé par une proposition acceptée", lambda i: i["funnel"]["accepted_through_offer"]),
    ("Médecin trouvé par le coordinateur directement", lambda i: i["funnel"]["accepted_by_coordinator"]),
    ("Délai médian de la demande à la première proposition (jours)", lambda i: _funnel_days(i, "received_to_offered")),
    (
        "Délai médian de la première proposition au médecin trouvé (jours)",
        lambda i: _funnel_days(i, "offered_to_accepted"),
    ),
    ("Encore en attente", lambda i: i["requests"]["still_waiting"]),
    (
        "Délai médian jusqu'au médecin (jours)",
        lambda i: i["median_days_to_match"] if i["median_days_to_match"] is not None else "—",
    ),
    # Closing the loop (app/requests/outcomes.py): the matched patients' answers.
    ("Patients interrogés sur leur premier rendez-vous", lambda i: i["outcomes"]["asked"]),
    ("… dont à appeler (fixe seulement)", lambda i: i["outcomes"]["to_call"]),
    ("Premier rendez-vous confirmé", lambda i: i["outcomes"]["first_visit"]),
    ("… dont ALD", lambda i: i["outcomes"]["first_visit_by_group"]["ald"]),
    ("… dont 70 ans et plus", lambda i: i["outcomes"]["first_visit_by_group"]["age_70"]),
    ("… dont CSS / AME", lambda i: i["outcomes"]["first_visit_by_group"]["css"]),
    ("Déclarés : médecin traitant", lambda i: i["outcomes"]["declared"]),
    ("… dont ALD", lambda i: i["outcomes"]["declared_by_group"]["ald"]),
    ("… dont 70 ans et plus", lambda i: i["outcomes"]["declared_by_group"]["age_70"]),
    ("… dont CSS / AME", lambda i: i["outcomes"]["declared_by_group"]["css"]),
    ("Délai médian du médecin trouvé au premier rendez-vous (jours)", lambda i: _days(i, "match_to_first_visit")),
    ("Délai médian du premier rendez-vous à la déclaration (jours)", lambda i: _days(i, "first_visit_to_declared")),
    ("Délai médian de la demande à la déclaration (jours)", lambda i: _days(i, "request_to_declared")),
    ("Médecins volontaires actifs", lambda i: i["doctors"]["volunteers"]),
    ("… acceptant de nouveaux patients", lambda i: i["doctors"]["accepting"]),
    ("Places offertes aujourd'hui", lambda i: i["doctors"]["places_offered"]),
    ("Places utilisées sur la période", lambda i: i["doctors"]["places_used"]),
    ("Propositions faites aux médecins", lambda i: i["offers"]["made"]),
    ("… acceptées", lambda i: i["offers"]["accepted"]),
    ("… déclinées", lambda i: i["offers"]["declined"]),
    ("… sans réponse dans le délai", lambda i: i["offers"]["expired"]),
    ("SMS envoyés aux patients", lambda i: i["sms"]["sent"]),
    ("… remis (accusé de réception)", lambda i: i["sms"]["delivered"]),
    ("… non remis ou refusés", lambda i: i["sms"]["failed"]),
    ("… remise inconnue (aucun accusé)", lambda i: i["sms"]["unknown"]),
    ("Fiches à confirmer (plus de six mois)", lambda i: i["doctors"]["stale"]),
    ("Créneaux de soins non programmés offerts", lambda i: i["unscheduled_care"]["slots_offered"]),
    ("… réservés", lambda i: i["unscheduled_care"]["slots_booked"]),
    ("… dont par la régulation SAS", lambda i: i["unscheduled_care"]["booked_by_sas"]),
    ("… honorés (patient venu)", lambda i: i["unscheduled_care"]["slots_used"]),
    ("… patient absent", lambda i: i["unscheduled_care"]["noshows"]),
    ("Rendez-vous annulés", lambda i: i["unscheduled_care"]["cancelled_bookings"]),
]


def _period(since: date | None, until: date | None) -> reporting.Period:
    if since and until and since > until:
        raise Unprocessable(
            "Période invalide : le début suit la fin.", fields=[FieldError(field="du", message="Le début suit la fin.")]
        )
    return reporting.Period(since, until)


def _table(figures: reporting.Indicators) -> list[tuple[str, object]]:
    rows = [(label, value(figures)) for label, value in ROWS]
    rows += [(f"Close : {CLOSE_REASONS.get(reason, reason)}", n) for reason, n in figures["requests"]["closed"].items()]
    activity = figures["unscheduled_care_report"]
    for split, labels in (("age_band", {**AGE_BANDS, "unknown": "âge non renseigné"}), ("has_doctor", HAS_DOCTOR)):
        for value, cell in activity[split].items():
            name = labels.get(value, value).lower()
            prefix = (
                f"Soins non programmés, {name}"
                if split == "age_band"
                else f"Soins non programmés, médecin traitant : {name}"
            )
            rows += [
                (f"{prefix} : réservés", cell["booked"]),
                (f"{prefix} : venus", cell["came"]),
                (f"{prefix} : sans rendez-vous", cell["walk_in"]),
                (f"{prefix} : passages", cell["passages"]),
                (f"{prefix} : absences non excusées", cell["noshow"]),
            ]
    for question, counts in figures["satisfaction"].items():
        label, choices = SURVEY_QUESTIONS[question]
        rows += [(f"Satisfaction : {label} {choices[choice].lower()}", n) for choice, n in counts.items()]
    return rows


def _funnel_chart(figures: reporting.Indicators) -> dict[str, object]:
    """The requests at each step, all of them and each priority group."""
    funnel, outcomes = figures["funnel"], figures["outcomes"]
    steps = [
        figures["received_by_group"],
        funnel["offered_by_group"],
        funnel["accepted_by_group"],
        outcomes["first_visit_by_group"],
        outcomes["declared_by_group"],
    ]
    return {
        "labels": ["Reçues", "Proposées à un médecin", "Médecin trouvé", "1er rendez-vous", "Déclarés"],
        "values": [step["total"] for step in steps],
        "groups": [
            {"label": label, "values": [step[group] for step in steps]}
            for group, label in (("ald", "ALD"), ("age_70", "70 ans et plus"), ("css", "CSS / AME"))
        ],
    }


# Acceptance and response rates per doctor (reporting.doctor_rates): the coordination's only.
RATE_COLUMNS = [
    "médecin",
    "propositions reçues",
    "répondues",
    "acceptées",
    "déclinées",
    "sans réponse dans le délai",
    "retirées avant réponse",
    "en attente",
    "taux de réponse (%)",
    "taux d'acceptation (%)",
    "délai médian de réponse (heures)",
]


def _rate_rows(rates: list[reporting.DoctorRate]) -> list[list[object]]:
    def value(number: float | None) -> object:
        return number if number is not None else "—"

    return [
        [
            r["name"],
            r["received"],
            r["answered"],
            r["accepted"],
            r["declined"],
            r["lapsed"],
            r["withdrawn"],
            r["pending"],
            value(r["response_rate"]),
            value(r["acceptance_rate"]),
            value(r["median_response_hours"]),
        ]
        for r in rates
    ]


def _doctor_rates(caller: Caller, session: DbSession, period: reporting.Period) -> list[list[object]] | None:
    """The rows of the per-doctor table, or None for a caller who may not see them."""
    if not caller.can(Action.READ_DOCTOR_RATES):
        return None
    return _rate_rows(reporting.doctor_rates(session, caller.principal, caller.cpts or "", period))


# FICHE 6's report of the CSNP, per centre and per doctor (reporting.csnp_report).
CSNP_COLUMNS = [
    "centre ou médecin",
    "réservations",
    "venus sur rendez-vous",
    "sans rendez-vous",
    "passages",
    "absences non excusées",
    *(f"passages {label.lower()}" for label in AGE_BANDS.values()),
    "passages âge non renseigné",
    *(f"passages, médecin traitant : {label.lower()}" for label in HAS_DOCTOR.values()),
]


def _csnp_rows(figures: reporting.Indicators) -> list[list[object]]:
    return [[row["name"], *(row["counts"][c] for c in REPORT_COLUMNS)] for row in figures["csnp_report"]]


# The calls to the phone line (app/calls): by day, by hour of the day (Paris), by each choice.
def _call_rows(figures: reporting.Indicators) -> list[list[object]]:
    calls = figures["calls"]
    rows: list[list[object]] = [["Appels reçus (notés)", calls["total"]]]
    for label, counts, names in (
        ("qui appelle", calls["by_caller"], CALLERS),
        ("motif", calls["by_reason"], REASONS),
        ("suite donnée", calls["by_outcome"], CALL_OUTCOMES),
    ):
        rows += [[f"Appels, {label} : {names[k].lower()}", n] for k, n in counts.items()]
    rows += [[f"Appels le {day:%d/%m/%Y}", n] for day, n in calls["by_day"].items()]
    rows += [[f"Appels entre {hour:02d} h et {(hour + 1) % 24:02d} h", n] for hour, n in calls["by_hour"].items()]
    return rows


def _default_since() -> date:
    today = date.today()
    return date(today.year, 1, 1)


@router.get("/indicateurs", response_class=HTMLResponse)
def indicators(
    request: Request,
    caller: IndicatorReader,
    session: DbSession,
    du: Annotated[BoundedDate | None, Query()] = None,
    au: Annotated[BoundedDate | None, Query()] = None,
) -> HTMLResponse:
    since, until = du or _default_since(), au or date.today()
    figures = reporting.indicators(session, caller.principal, caller.cpts or "", _period(since, until))
    charts = {
        "groups": {
            "labels": ["ALD", "70 ans et plus", "CSS / AME"],
            "received": [figures["received_by_group"][g] for g in ("ald", "age_70", "css")],
            "matched": [figures["matched_by_group"][g] for g in ("ald", "age_70", "css")],
        },
        "funnel": _funnel_chart(figures),
        "sources": {"labels": list(figures["by_source"]), "values": list(figures["by_source"].values())},
        "communes": {"labels": list(figures["by_commune"])[:10], "values": list(figures["by_commune"].values())[:10]},
        "calls": {
            "labels": [f"{hour:02d} h" for hour in figures["calls"]["by_hour"]],
            "values": list(figures["calls"]["by_hour"].values()),
        },
        "slots": {
            "labels": ["Offerts", "Réservés", "Honorés", "Absents"],
            "values": [
                figures["unscheduled_care"][k] for k in ("slots_offered", "slots_booked", "slots_used", "noshows")
            ],
        },
    }
    alert = requests_service.waiting_alert(request.app.state.settings.waiting_alert_days)
    context = {
        "since": since,
        "until": until,
        "alert": alert,
        "waiting_too_long": requests_service.count_waiting_too_long(session, caller.principal, caller.cpts, alert),
        "figures": figures,
        "table": _table(figures),
        "rate_columns": RATE_COLUMNS,
        "doctor_rates": _doctor_rates(caller, session, _period(since, until)),
        "csnp_columns": CSNP_COLUMNS,
        "csnp_rows": _csnp_rows(figures),
        "call_hours": [(f"{hour:02d} h", n) for hour, n in figures["calls"]["by_hour"].items()],
        "call_labels": {"caller": CALLERS, "reason": REASONS, "outcome": CALL_OUTCOMES},
        "charts": json.dumps(charts).replace("<", "\\u003c"),
    }
    return render(request, caller, "espace/indicators.html", context)


def _export(caller: Caller, session: DbSession, since: date, until: date) -> tuple[list[str], list]:
    period = _period(since, until)
    figures = reporting.indicators(session, caller.principal, caller.cpts or "", period)
    rows = [
        *_table(figures),
        [],
        ["commune", "demandes"],
        *figures["by_commune"].items(),
        [],
        ["source", "demandes"],
        *figures["by_source"].items(),
    ]
    rows += [[], ["Rapport du centre de soins non programmés (FICHE 6)"], CSNP_COLUMNS, *_csnp_rows(figures)]
    rows += [[], ["Appels de la ligne", "appels"], *_call_rows(figures)]
    rates = _doctor_rates(caller, session, period)
    if rates is not None:  # the coordination's export only
        rows += [[], RATE_COLUMNS, *rates]
    return ["indicateur", f"du {since:%d/%m/%Y} au {until:%d/%m/%Y}"], rows


@router.get("/indicateurs.csv")
def indicators_csv(
    caller: IndicatorReader,
    session: DbSession,
    du: Annotated[BoundedDate | None, Query()] = None,
    au: Annotated[BoundedDate | None, Query()] = None,
) -> Response:
    since, until = du or _default_since(), au or date.today()
    header, rows = _export(caller, session, since, until)
    filename = f"indicateurs-{caller.cpts}-{since}-{until}.csv"
    return Response(
        spreadsheet.to_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/indicateurs.xlsx")
def indicators_xlsx(
    caller: IndicatorReader,
    session: DbSession,
    du: Annotated[BoundedDate | None, Query()] = None,
    au: Annotated[BoundedDate | None, Query()] = None,
) -> Response:
    since, until = du or _default_since(), au or date.today()
    header, rows = _export(caller, session, since, until)
    filename = f"indicateurs-{caller.cpts}-{since}-{until}.xlsx"
    return Response(
        spreadsheet.to_xlsx("Indicateurs", header, rows),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Audit trail ----------------------------------------------------------------------------------

AUDIT_PER_PAGE = 100


@router.get("/journal", response_class=HTMLResponse)
def audit(
    request: Request,
    caller: AuditReader,
    session: DbSession,
    objet: Annotated[str, Query(max_length=40)] = "",
    numero: Annotated[str, Query(max_length=40)] = "",
    du: Annotated[BoundedDate | None, Query()] = None,
    au: Annotated[BoundedDate | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    since = datetime.combine(du, time(), reporting.PARIS) if du else None
    until = datetime.combine(au + timedelta(days=1), time(), reporting.PARIS) if au else None
    events = list_events(
        session,
        caller.principal,
        territory_id=caller.territory.id if caller.territory else None,
        object_type=objet or None,
        object_id=numero.strip() or None,
        since=since,
        until=until,
        limit=AUDIT_PER_PAGE + 1,
        offset=(page - 1) * AUDIT_PER_PAGE,
    )
    context = {
        "events": events[:AUDIT_PER_PAGE],
        "more": len(events) > AUDIT_PER_PAGE,
        "page": page,
        "f": {"objet": objet, "numero": numero, "du": du or "", "au": au or ""},
        "object_types": OBJECT_TYPES,
    }
    return render(request, caller, "espace/audit.html", context)

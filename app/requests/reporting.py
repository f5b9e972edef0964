"""Follow-up and reporting: the export of requests, and the CPTS's indicators (ACI figures)."""

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.access import scoped
from app.accounts.principal import Principal
from app.core.database import utcnow
from app.doctors.models import STALE_AFTER, Doctor
from app.doctors.service import territory_for
from app.requests.models import PatientRequest, RequestEvent, RequestStatus, Source
from app.requests.priority import age_on, groups_of

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Period:
    """Whole days in Europe/Paris, `until` included."""

    since: date | None = None
    until: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        start = datetime.combine(self.since, time(), PARIS) if self.since else None
        end = datetime.combine(self.until + timedelta(days=1), time(), PARIS) if self.until else None
        return start, end


def _in_period(query, period: Period):  # noqa: ANN001, ANN202
    start, end = period.bounds()
    if start is not None:
        query = query.where(PatientRequest.created_at >= start)
    if end is not None:
        query = query.where(PatientRequest.created_at < end)
    return query


EXPORT_COLUMNS = [
    "numéro", "reçue le", "statut", "motif de clôture", "nom", "prénom", "âge", "téléphone", "e-mail",
    "commune", "code INSEE", "code postal", "ALD", "70 ans et plus", "C2S/AME", "visites à domicile",
    "pourquoi sans médecin", "canal préféré", "déposée par", "source", "médecin (id)", "mise à jour le",
]  # fmt: skip


def export_rows(session: Session, principal: Principal, cpts: str | None, period: Period,
                statuses: list[str] | None, source: str | None) -> list[list[object]]:  # fmt: skip
    query = _in_period(scoped(PatientRequest, principal), period).order_by(PatientRequest.created_at)
    if cpts:
        territory = territory_for(session, principal, cpts)
        query = query.where(PatientRequest.territory_id == territory.id)
    if statuses:
        query = query.where(PatientRequest.status.in_(statuses))
    if source:
        query = query.where(PatientRequest.source.has(tag=source))
    today = utcnow().date()
    rows = []
    for r in session.scalars(query):
        rows.append([
            r.id, r.created_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"), r.status, r.close_reason or "",
            r.family_name, r.given_name, age_on(r.birth_date, today), r.phone, r.email or "", r.commune_name,
            r.insee_code, r.postcode, "oui" if r.ald else "non", "oui" if r.aged_70_or_more else "non",
            {"yes": "oui", "no": "non"}.get(r.css_or_ame, "?"), "oui" if r.needs_home_visits else "non",
            r.no_doctor_reason, r.preferred_channel, r.submitted_by, r.source.name if r.source else "",
            r.matched_doctor_id or "", r.updated_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
        ])  # fmt: skip
    return rows


def to_csv(rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read the accents right


def to_xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Demandes"
    sheet.append(EXPORT_COLUMNS)
    for row in rows:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def indicators(session: Session, principal: Principal, cpts: str, period: Period) -> dict[str, object]:
    territory = territory_for(session, principal, cpts)
    # Plain rows, only the columns counted: a CPTS receives thousands of requests a year, and
    # building full objects for each was most of the time.
    requests = session.execute(_in_period(
        select(PatientRequest.id, PatientRequest.status, PatientRequest.close_reason, PatientRequest.ald,
               PatientRequest.aged_70_or_more, PatientRequest.css_or_ame, PatientRequest.commune_name,
               PatientRequest.created_at, Source.name.label("source_name"))
        .outerjoin(Source, Source.id == PatientRequest.source_id)
        .where(PatientRequest.territory_id == territory.id), period)).all()  # fmt: skip
    inside = [r for r in requests if r.status != RequestStatus.OUT_OF_TERRITORY]
    matched = [r for r in inside if r.status == RequestStatus.MATCHED]
    match_events = dict(session.execute(_in_period(
        select(RequestEvent.request_id, func.min(RequestEvent.at))
        .join(PatientRequest, PatientRequest.id == RequestEvent.request_id)
        .where(PatientRequest.territory_id == territory.id, PatientRequest.status == RequestStatus.MATCHED.value,
               RequestEvent.to_status == "matched"), period)
        .group_by(RequestEvent.request_id)
    ).all())  # fmt: skip
    days_to_match = [(match_events[r.id] - r.created_at).total_seconds() / 86400 for r in matched if r.id in match_events]

    def split(items: list) -> dict[str, int]:
        counts = Counter(g for r in items for g in groups_of(r))
        return {"ald": counts["ald"], "age_70": counts["age_70"], "css": counts["css"], "total": len(items)}

    doctors = session.execute(
        select(Doctor.accepting_new_patients, Doctor.capacity_remaining, Doctor.confirmed_at)
        .where(Doctor.territory_id == territory.id, Doctor.active.is_(True))
    ).all()  # fmt: skip
    stale_limit = utcnow() - STALE_AFTER
    return {
        "cpts": territory.slug,
        "period": {"from": period.since, "to": period.until},
        "requests": {
            "received": len(inside),
            "out_of_territory": len(requests) - len(inside),
            "proposed": sum(r.status == RequestStatus.PROPOSED for r in inside),
            "matched": len(matched),
            "closed": dict(Counter(r.close_reason for r in inside if r.status == RequestStatus.CLOSED)),
            "still_waiting": sum(r.status in (RequestStatus.RECEIVED, RequestStatus.PROPOSED) for r in inside),
        },
        # The ACI figures: patients without a médecin traitant oriented, split ALD / 70+ / CSS.
        "received_by_group": split(inside),
        "matched_by_group": split(matched),
        "median_days_to_match": round(statistics.median(days_to_match), 1) if days_to_match else None,
        "by_commune": dict(Counter(r.commune_name for r in requests).most_common()),
        "by_source": dict(Counter(r.source_name or "formulaire direct" for r in requests).most_common()),
        "doctors": {
            "volunteers": len(doctors),
            "accepting": sum(d.accepting_new_patients and d.capacity_remaining > 0 for d in doctors),
            "places_offered": sum(d.capacity_remaining for d in doctors if d.accepting_new_patients),
            "places_used": len(matched),
            "stale": sum(d.confirmed_at < stale_limit for d in doctors),
        },
    }

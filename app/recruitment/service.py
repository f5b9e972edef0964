"""The territory at a glance, and recruiting volunteers among its GPs.

- `overview`: every GP of a CPTS (the national directory's and the volunteers, met on the
  RPPS), the open requests counted by commune (never a person), the unscheduled-care places of
  the next 7 days, and the coverage per commune (app/recruitment/coverage.py has the rule);
- `invite`: an invitation to volunteer, e-mailed through the outbox when an address is known
  (the directory's, or one the coordinator typed), otherwise a letter to print, with a QR code;
- `submit_application` (the public sign-up page), `approve` (which makes the volunteer with
  app/doctors/service.py's `create_doctor`, its rules untouched) and `reject`;
- `refresh_campaign`: the six-month refresh, from the volunteers' confirmations and the
  reminders written by app/doctors/reminders.py."""

import base64
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from app.accounts.policy import Action, ensure
from app.accounts.principal import Principal
from app.audit.service import record
from app.core.database import utcnow
from app.core.errors import Conflict, FieldError, NotFound, Unprocessable
from app.core.identifiers import french_phone
from app.core.settings import Settings
from app.directory import repository as directory_repository
from app.directory import service as directory_service
from app.directory.models import DirectoryPractitioner
from app.doctors import service as doctors_service
from app.doctors.models import STALE_AFTER, Doctor
from app.doctors.schemas import Availability, DoctorCreate, LocationIn
from app.geocoding.service import GeocodingService
from app.notifications.outbox import enqueue
from app.notifications.templates import render
from app.recruitment import repository
from app.recruitment.coverage import CommuneFacts, Coverage, coverage, places_by_commune
from app.recruitment.links import INVITATION_DAYS, invitation_link
from app.recruitment.models import ApplicationStatus, DoctorInvitation, InvitationChannel, VolunteerApplication
from app.recruitment.schemas import VolunteerSignup
from app.requests.priority import day_in_paris
from app.territories.boundaries import boundaries_of
from app.territories.communes import CommuneIndex
from app.territories.models import Territory
from app.territories.residency import check_residency

SNP_DAYS = 7
MAX_INVITATIONS = 200  # at once, from one form
SHOWS = {"tous": "Tous les généralistes", "volontaires": "Volontaires", "non-volontaires": "Non volontaires"}
SHOWS |= {"a-confirmer": "Volontaires à reconfirmer (plus de six mois)"}
_EMAIL = TypeAdapter(EmailStr)


@dataclass
class Practice:
    address: str
    postcode: str | None
    city: str
    insee: str
    latitude: float | None
    longitude: float | None
    approximate: bool  # placed at the commune's centre: the address was not geocoded


@dataclass
class TerritoryGp:
    rpps: str
    name: str
    volunteer: bool
    practices: list[Practice]
    doctor_id: int | None = None
    practitioner_id: int | None = None
    accepting: bool = False
    places: int = 0
    confirmed_at: datetime | None = None
    stale: bool = False
    email: str | None = None  # where an invitation would go (non-volunteers)
    invited_at: datetime | None = None
    invited_by: str | None = None  # email | letter
    invitation_id: int | None = None
    deactivated: bool = False  # registered as a volunteer once, now deactivated: not invited

    @property
    def invitable(self) -> bool:
        return not self.volunteer and not self.deactivated

    @property
    def communes(self) -> set[str]:
        return {p.insee for p in self.practices}


@dataclass
class Overview:
    territory: Territory
    show: str
    commune: str
    communes: list[tuple[str, str]]  # (INSEE, name) of the CPTS, by name
    gps: list[TerritoryGp]  # those the filters keep
    total_gps: int
    volunteers: int
    coverage: list[Coverage]
    snp_by_commune: dict[str, int]
    waiting_total: int
    pending_applications: int
    map_data: str  # JSON for app/static/workspace/territory.js
    today: date
    names: dict[str, str] = field(default_factory=dict)  # INSEE → name

    @property
    def snp_total(self) -> int:
        return sum(self.snp_by_commune.values())

    @property
    def recruit(self) -> list[Coverage]:
        return [c for c in self.coverage if c.recruit_here]


def _commune_name(communes: CommuneIndex, code: str) -> str:
    commune = communes.get(code)
    return commune.name if commune else code


def _practice(communes: CommuneIndex, address, postcode, city, insee, lat, lon) -> Practice:
    approximate = lat is None or lon is None
    if approximate and (commune := communes.get(insee)) is not None:
        lat, lon = commune.latitude, commune.longitude
    return Practice(address, postcode, city, insee, lat, lon, approximate)


def _gps(session: Session, principal: Principal, territory: Territory, communes: CommuneIndex, now: datetime):
    """Every GP of the CPTS by RPPS: the volunteers as they entered themselves, the others as
    the directory publishes them."""
    gps: dict[str, TerritoryGp] = {}
    volunteers = repository.volunteers(session, principal, territory.id)
    accepting = repository.accepting_ids(session, principal, territory.id, day_in_paris(now))
    for doctor in volunteers:
        gps[doctor.rpps] = TerritoryGp(
            rpps=doctor.rpps,
            name=f"Dr {doctor.given_name} {doctor.family_name}",
            volunteer=True,
            practices=[
                _practice(communes, p.address, p.postcode, p.city, p.insee_code, p.latitude, p.longitude)
                for p in doctor.locations
            ],
            doctor_id=doctor.id,
            accepting=doctor.id in accepting,
            places=doctor.capacity_remaining if doctor.id in accepting else 0,
            confirmed_at=doctor.confirmed_at,
            stale=doctor.is_stale(now),
            email=doctor.email,
        )
    for entry, doctor_id in directory_service.practitioners_with_volunteers(session, principal, territory.id):
        known = gps.get(entry.rpps)
        if known is not None:
            known.practitioner_id = entry.id
            continue
        gps[entry.rpps] = TerritoryGp(
            rpps=entry.rpps,
            name=f"Dr {entry.given_name} {entry.family_name}",
            volunteer=False,
            practices=[
                _practice(communes, p.address, p.postcode, p.city, p.insee_code, p.latitude, p.longitude)
                for p in entry.practices
            ],
            practitioner_id=entry.id,
            email=next((p.email for p in entry.practices if p.email), None),
            deactivated=doctor_id is not None,  # a volunteer's record, switched off
        )
    for rpps, invitation in repository.latest_invitations(session, principal, territory.id).items():
        if rpps in gps:
            gps[rpps].invited_at, gps[rpps].invited_by = invitation.created_at, invitation.channel
            gps[rpps].invitation_id = invitation.id
    ordered = sorted(gps.values(), key=lambda g: (g.name.split(" ", 2)[-1].lower(), g.rpps))
    return ordered, volunteers, accepting


def _kept(gp: TerritoryGp, show: str, commune: str) -> bool:
    if commune and commune not in gp.communes:
        return False
    if show == "volontaires":
        return gp.volunteer
    if show == "non-volontaires":
        return not gp.volunteer
    if show == "a-confirmer":
        return gp.volunteer and gp.stale
    return True


def overview(
    session: Session,
    principal: Principal,
    territory: Territory,
    communes: CommuneIndex,
    *,
    show: str = "tous",
    commune: str = "",
    tiles: str = "",
    attribution: str = "",
) -> Overview:
    ensure(principal, Action.READ_TERRITORY)
    now = utcnow()
    today = day_in_paris(now)
    show = show if show in SHOWS else "tous"
    codes = sorted(territory.insee_codes)
    commune = commune if commune in codes else ""
    names = {code: _commune_name(communes, code) for code in codes}
    gps, volunteers, accepting = _gps(session, principal, territory, communes, now)

    waiting: dict[str, list[date]] = defaultdict(list)
    for code, received_at in repository.open_requests_by_commune(session, principal, territory.id):
        waiting[code].append(day_in_paris(received_at))
    places = places_by_commune(
        (d.locations[0].insee_code if d.locations else None, d.id in accepting, d.capacity_remaining)
        for d in volunteers
    )
    facts = []
    for code in codes:
        here = [g for g in gps if code in g.communes]
        population = c.population if (c := communes.get(code)) else 0
        facts.append(
            CommuneFacts(
                insee=code,
                name=names[code],
                population=population,
                gps=len(here),
                volunteers=sum(1 for g in here if g.volunteer),
                places=places.get(code, 0),
                waiting_since=tuple(waiting.get(code, ())),
            )
        )
    rows = coverage(facts, today)
    snp = repository.free_slots_by_commune(session, principal, territory.id, now, now + timedelta(days=SNP_DAYS))
    kept = [g for g in gps if _kept(g, show, commune)]
    map_data = _map_data(codes, names, rows, snp, kept, commune, tiles, attribution)
    return Overview(
        territory=territory,
        show=show,
        commune=commune,
        communes=sorted(names.items(), key=lambda item: item[1]),
        gps=kept,
        total_gps=len(gps),
        volunteers=sum(1 for g in gps if g.volunteer),
        coverage=rows,
        snp_by_commune=snp,
        waiting_total=sum(len(v) for v in waiting.values()),
        pending_applications=len(
            repository.applications(session, principal, territory.id, ApplicationStatus.PENDING.value)
        ),
        map_data=map_data,
        today=today,
        names=names,
    )


def _map_data(codes, names, rows: list[Coverage], snp, gps: list[TerritoryGp], commune, tiles, attribution) -> str:
    """What the map draws: the communes' boundaries with their counts (no person), the GPs."""
    by_code = {row.insee: row for row in rows}
    shapes = boundaries_of(codes)
    communes = []
    for code in codes:
        row = by_code[code]
        communes.append(
            {
                "insee": code,
                "name": names[code],
                "polygons": [[[list(point) for point in ring] for ring in polygon] for polygon in shapes.get(code, [])],
                "waiting": row.waiting,
                "places": row.places,
                "snp": snp.get(code, 0),
                "recruit": row.recruit_here,
                "selected": code == commune,
            }
        )
    doctors = []
    for gp in gps:
        for practice in gp.practices:
            if practice.latitude is None or practice.longitude is None:
                continue
            if gp.volunteer:
                kind = "stale" if gp.stale else "volunteer"
                status = f"volontaire, {gp.places} place{'s' if gp.places > 1 else ''}"
                status += ", à reconfirmer" if gp.stale else ""
            else:
                kind, status = "other", "non volontaire"
            doctors.append(
                {
                    "lat": practice.latitude,
                    "lon": practice.longitude,
                    "kind": kind,
                    "label": f"{gp.name} ({practice.city}) : {status}",
                }
            )
    return json.dumps(
        {"communes": communes, "doctors": doctors, "tiles": tiles, "attribution": attribution},
        ensure_ascii=False,
        separators=(",", ":"),
    )


# ---- Invitations --------------------------------------------------------------------------------


@dataclass
class InvitationOutcome:
    emailed: list[DoctorInvitation] = field(default_factory=list)
    letters: list[DoctorInvitation] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why, in French, per RPPS


def _typed_email(rpps: str, typed: str | None) -> str | None:
    if not typed:
        return None
    try:
        return str(_EMAIL.validate_python(typed.strip()))
    except ValidationError:
        message = f"Adresse e-mail invalide pour le RPPS {rpps}."
        raise Unprocessable(message, fields=[FieldError(field=f"email_{rpps}", message=message)]) from None


def invite(
    session: Session,
    settings: Settings,
    base_url: str,
    principal: Principal,
    territory: Territory,
    choices: list[tuple[str, str | None]],
) -> InvitationOutcome:
    """Invites these GPs of the directory (RPPS, an address the coordinator typed or None)."""
    ensure(principal, Action.RECRUIT_DOCTORS)
    if not choices:
        raise Unprocessable(
            "Cochez au moins un médecin à inviter.",
            fields=[FieldError(field="rpps", message="Cochez au moins un médecin à inviter.")],
        )
    if len(choices) > MAX_INVITATIONS:
        message = f"Au plus {MAX_INVITATIONS} invitations à la fois."
        raise Unprocessable(message, fields=[FieldError(field="rpps", message=message)])
    outcome = InvitationOutcome()
    registered = directory_repository.volunteer_ids_by_rpps(session, principal, territory.id)
    for rpps, typed in dict(choices).items():  # one invitation per RPPS, whatever the form repeats
        email = _typed_email(rpps, typed)
        entry = repository.directory_practitioner(session, principal, territory.id, rpps)
        if entry is None:
            outcome.refused.append(f"RPPS {rpps[:11]} : absent de l'annuaire de la CPTS.")
            continue
        if rpps in registered:  # a volunteer, or one whose record was deactivated
            outcome.refused.append(f"Dr {entry.given_name} {entry.family_name} est déjà inscrit comme volontaire.")
            continue
        email = email or next((p.email for p in entry.practices if p.email), None)
        invitation = DoctorInvitation(
            territory_id=territory.id,
            rpps=rpps,
            practitioner_id=entry.id,
            channel=InvitationChannel.EMAIL.value if email else InvitationChannel.LETTER.value,
            email=email,
            sent_by_user_id=principal.user_id,
        )
        session.add(invitation)
        session.flush()  # its id, signed in the link
        if email:
            _enqueue_invitation(session, settings, base_url, territory, entry, invitation, email)
            outcome.emailed.append(invitation)
        else:
            outcome.letters.append(invitation)
        record(
            session, principal, f"doctor.invite.{invitation.channel}", "doctor_invitation", invitation.id, territory.id
        )
    return outcome


def _enqueue_invitation(
    session: Session,
    settings: Settings,
    base_url: str,
    territory: Territory,
    entry: DirectoryPractitioner,
    invitation: DoctorInvitation,
    email: str,
) -> None:
    subject, body = render(
        "doctor_invitation",
        "email",
        family_name=entry.family_name,
        territory=territory.name,
        territory_phone=french_phone(territory.phone),
        territory_email=territory.email,
        link=invitation_link(settings, base_url, invitation.id, invitation.rpps),
        days=INVITATION_DAYS,
    )
    enqueue(
        session,
        kind="doctor_invitation",
        channel="email",
        recipient=email,
        subject=subject,
        body=body,
        territory_id=territory.id,
    )


@dataclass
class Letter:
    invitation: DoctorInvitation
    territory: Territory  # the invitation's CPTS, which signs the letter
    name: str
    family_name: str
    practice: str | None  # the address the letter goes to
    link: str
    qr_data_uri: str


def letters(
    session: Session, settings: Settings, base_url: str, principal: Principal, invitation_ids: list[int]
) -> list[Letter]:
    """The printable letters of these invitations (those the caller may see); NotFound if none."""
    ensure(principal, Action.RECRUIT_DOCTORS)
    found = repository.invitations(session, principal, invitation_ids[:MAX_INVITATIONS])
    if not found:
        raise NotFound("Invitation introuvable.")
    entries = repository.practitioners_by_id(
        session, principal, [i.practitioner_id for i in found if i.practitioner_id]
    )
    result = []
    for invitation in found:
        entry = entries.get(invitation.practitioner_id) if invitation.practitioner_id else None
        link = invitation_link(settings, base_url, invitation.id, invitation.rpps)
        practice = None
        if entry is not None and entry.practices:
            p = entry.practices[0]
            practice = f"{p.structure_name + ', ' if p.structure_name else ''}{p.address}, {p.postcode or ''} {p.city}"
        import segno  # ~9 MB of a worker, for letters printed now and then: loaded when first asked

        svg = segno.make(link, error="m").svg_inline(scale=4, omitsize=True)
        result.append(
            Letter(
                invitation=invitation,
                territory=invitation.territory,
                name=f"Dr {entry.given_name} {entry.family_name}" if entry else f"RPPS {invitation.rpps}",
                family_name=entry.family_name if entry else "",
                practice=practice,
                link=link,
                qr_data_uri="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
            )
        )
    return result


# ---- The sign-up page and the coordination's decision ----------------------------------------------


@dataclass
class SignupContext:
    """What the sign-up page knows before the doctor types: from its invitation, if any."""

    invitation: DoctorInvitation | None
    territory: Territory | None
    values: dict[str, str]


def signup_context(session: Session, invitation_id: int | None, rpps: str | None) -> SignupContext | None:
    """None: the link names an invitation that no longer exists (or another RPPS)."""
    if invitation_id is None:
        return SignupContext(None, None, {})
    invitation = repository.invitation_unscoped(session, invitation_id)
    if invitation is None or invitation.rpps != rpps:
        return None
    territory = session.get(Territory, invitation.territory_id)
    values = {"rpps": invitation.rpps, "email": invitation.email or ""}
    entry = repository.directory_entry_unscoped(session, invitation.territory_id, invitation.rpps)
    if entry is not None:
        values |= {"family_name": entry.family_name, "given_name": entry.given_name}
        if entry.practices:
            p = entry.practices[0]
            values |= {"address": p.address, "postcode": p.postcode or "", "city": p.city, "phone": p.phone or ""}
            values["email"] = values["email"] or p.email or ""
    return SignupContext(invitation, territory, values)


def submit_application(
    session: Session,
    geocoding: GeocodingService,
    data: VolunteerSignup,
    invitation: DoctorInvitation | None,
    client_address: str | None,
) -> tuple[VolunteerApplication, Territory]:
    """A doctor signs up. The RPPS is valid (the schema checked its key); the practice must lie
    in a CPTS of the deployment (the invitation's, when it came with one); whether the CPTS's
    directory lists the RPPS is recorded for the coordinator, who decides."""
    if data.website:  # a hidden field only robots fill in
        raise Unprocessable(
            "Inscription refusée.", fields=[FieldError(field="website", message="Laissez ce champ vide.")]
        )
    taken = repository.rpps_taken_unscoped(session, data.rpps)
    if taken:
        message = (
            "Ce numéro RPPS est déjà celui d'un médecin volontaire : la coordination de votre CPTS peut vous aider."
            if taken == "doctor"
            else "Une inscription avec ce numéro RPPS attend déjà la réponse de la coordination."
        )
        raise Conflict(message, fields=[FieldError(field="rpps", message=message)])
    location = LocationIn(address=data.address, postcode=data.postcode, city=data.city, phone=None)
    territory = session.get(Territory, invitation.territory_id) if invitation is not None else None
    if territory is None:
        residency = check_residency(session, geocoding, data.postcode, data.city, data.address, writing=True)
        territory = residency.territory
        if territory is None:
            commune = residency.placement.commune
            message = f"{commune.name} ({commune.insee}) n'appartient à aucune CPTS de ce service."
            raise Unprocessable(message, fields=[FieldError(field="city", message=message)])
    try:  # the doctors' own rule: placed by the geocoder, inside the CPTS
        practice = doctors_service.locate_practice(session, geocoding, territory, location, "practice")
    except Unprocessable as exc:
        for error in exc.fields:
            error.field = error.field.removeprefix("practice.")
        raise
    application = VolunteerApplication(
        territory_id=territory.id,
        invitation_id=invitation.id if invitation else None,
        rpps=data.rpps,
        in_directory=repository.directory_entry_unscoped(session, territory.id, data.rpps) is not None,
        civility=data.civility,
        family_name=data.family_name,
        given_name=data.given_name,
        email=str(data.email),
        phone=data.phone,
        address=data.address,
        postcode=data.postcode,
        city=practice.city,
        insee_code=practice.insee_code,
        availability=data.availability.model_dump(mode="json"),
    )
    session.add(application)
    session.flush()
    record(
        session,
        None,
        "volunteer_application.create",
        "volunteer_application",
        application.id,
        territory.id,
        actor=f"inscription en ligne ({data.rpps})",
        client_address=client_address,
    )
    return application, territory


def applications(
    session: Session, principal: Principal, territory: Territory, status: str | None = None
) -> list[VolunteerApplication]:
    ensure(principal, Action.RECRUIT_DOCTORS)
    return list(repository.applications(session, principal, territory.id, status))


def _pending(session: Session, principal: Principal, application_id: int) -> VolunteerApplication:
    ensure(principal, Action.RECRUIT_DOCTORS)
    application = repository.application(session, principal, application_id)
    if application is None:
        raise NotFound("Inscription introuvable.")
    if application.status != ApplicationStatus.PENDING.value:
        raise Conflict("Cette inscription a déjà reçu une réponse.")
    return application


def approve(session: Session, geocoding: GeocodingService, principal: Principal, application_id: int) -> Doctor:
    """The coordination accepts: the volunteer is created as any doctor is (create_doctor)."""
    application = _pending(session, principal, application_id)
    territory = session.get(Territory, application.territory_id)
    assert territory is not None  # the foreign key
    doctor = doctors_service.create_doctor(
        session,
        geocoding,
        principal,
        DoctorCreate(
            cpts=territory.slug,
            rpps=application.rpps,
            civility=application.civility,
            family_name=application.family_name,
            given_name=application.given_name,
            email=application.email,
            phone=application.phone,
            locations=[LocationIn(address=application.address, postcode=application.postcode, city=application.city)],
            availability=Availability.model_validate(application.availability),
        ),
    )
    _decide(application, principal, ApplicationStatus.APPROVED)
    application.doctor_id = doctor.id
    record(session, principal, "volunteer_application.approve", "volunteer_application", application.id, territory.id)
    return doctor


def reject(session: Session, principal: Principal, application_id: int) -> VolunteerApplication:
    application = _pending(session, principal, application_id)
    _decide(application, principal, ApplicationStatus.REJECTED)
    record(
        session,
        principal,
        "volunteer_application.reject",
        "volunteer_application",
        application.id,
        application.territory_id,
    )
    return application


def _decide(application: VolunteerApplication, principal: Principal, status: ApplicationStatus) -> None:
    application.status = status.value
    application.decided_by_user_id = principal.user_id
    application.decided_at = utcnow()


# ---- The six-month refresh --------------------------------------------------------------------

CAMPAIGN_STATES = {
    "no_answer": "Relancé, sans réponse",
    "to_remind": "À relancer (plus de six mois, pas relancé depuis)",
    "answered": "A répondu à la relance",
    "fresh": "À jour (confirmé depuis moins de six mois)",
}


@dataclass
class CampaignRow:
    doctor: Doctor
    state: str  # a key of CAMPAIGN_STATES
    reminded_at: datetime | None
    due_at: datetime  # when its confirmation goes stale (six months after it)


def refresh_campaign(session: Session, principal: Principal, territory: Territory) -> list[CampaignRow]:
    """Every active volunteer: fresh, answered a reminder, reminded without answer, or to remind."""
    ensure(principal, Action.RECRUIT_DOCTORS)
    now = utcnow()
    doctors = repository.volunteers(session, principal, territory.id)
    reminded = repository.last_reminders(session, principal, [d.id for d in doctors])
    rows = []
    for doctor in doctors:
        at = reminded.get(doctor.id)
        if not doctor.is_stale(now):
            state = "answered" if at is not None and doctor.confirmed_at >= at else "fresh"
        else:
            state = "no_answer" if at is not None and at > doctor.confirmed_at else "to_remind"
        rows.append(CampaignRow(doctor, state, at, doctor.confirmed_at + STALE_AFTER))
    order = list(CAMPAIGN_STATES)
    return sorted(rows, key=lambda r: (order.index(r.state), r.doctor.confirmed_at))

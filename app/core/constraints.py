"""What a broken unique key means to the person who hit it. The database's constraints are the
last guard against two writers racing past the same check: the loser gets a 409 with a French
message, from here, wherever the IntegrityError surfaced (a flush, or the request's commit in
app.core.dependencies.get_db). A constraint not listed here stays a 500: a bug, not a race."""

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.errors import Conflict
from app.snp.rules import SLOT_TAKEN


@dataclass(frozen=True)
class KnownConstraint:
    name: str  # as the migrations name it, and PostgreSQL reports it
    columns: str  # as SQLite reports it: "UNIQUE constraint failed: <columns>"
    message: str


KNOWN_CONSTRAINTS = (
    KnownConstraint("uq_snp_bookings_live_slot", "snp_bookings.slot_id", SLOT_TAKEN),
    KnownConstraint("uq_doctors_rpps", "doctors.rpps", "Un médecin avec ce RPPS est déjà inscrit."),
    KnownConstraint("uq_users_email", "users.email", "Un compte existe déjà avec cette adresse e-mail."),
    KnownConstraint("uq_users_doctor_id", "users.doctor_id", "Un compte existe déjà pour ce médecin."),
    KnownConstraint(
        "uq_users_national_id", "users.national_id", "Un compte est déjà relié à ce professionnel de santé."
    ),
    KnownConstraint("uq_territories_slug", "territories.slug", "Une CPTS existe déjà avec cet identifiant."),
    KnownConstraint("uq_territories_finess", "territories.finess", "Une CPTS existe déjà avec ce numéro FINESS."),
    KnownConstraint(
        "pk_territory_communes",
        "territory_communes.insee_code",
        "Une de ces communes appartient déjà à une autre CPTS.",
    ),
    KnownConstraint("uq_sources_tag", "sources.tag", "Une source porte déjà cette étiquette."),
    KnownConstraint(
        "uq_patient_requests_open_identity",
        "patient_requests.territory_id, patient_requests.identity_key",
        "Cette personne a déjà une demande en cours dans cette CPTS.",
    ),
    KnownConstraint(
        "uq_regulator_identifiers_system_value",
        "regulator_identifiers.system, regulator_identifiers.value",
        "Cet identifiant appartient déjà à un autre compte.",
    ),
)
_BY_NAME = {c.name: c for c in KNOWN_CONSTRAINTS}
_BY_COLUMNS = {c.columns: c for c in KNOWN_CONSTRAINTS}


def broken_constraint(error: IntegrityError) -> KnownConstraint | None:
    """The known constraint the error broke, if any. Only the driver's diagnostics are read
    (the constraint's name, SQLite's column list), never the statement's parameters."""
    diag = getattr(error.orig, "diag", None)  # psycopg
    name = getattr(diag, "constraint_name", None)
    if name:
        return _BY_NAME.get(name)
    text = str(error.orig)
    for prefix in ("UNIQUE constraint failed: ", "PRIMARY KEY constraint failed: "):
        if text.startswith(prefix):
            return _BY_COLUMNS.get(text.removeprefix(prefix))
    return None


def conflict_for(error: IntegrityError) -> Conflict | None:
    """The 409 for a known constraint; None for any other (the caller re-raises it)."""
    known = broken_constraint(error)
    return Conflict(known.message) if known else None


def flush_or_conflict(session: Session) -> None:
    """Flushes now, so that a broken known constraint is a Conflict the caller may catch (a
    page answering with its own form) rather than an IntegrityError at the request's end."""
    try:
        session.flush()
    except IntegrityError as error:
        raise conflict_for(error) or error from None

"""The `orientation` command."""

import sys
from pathlib import Path

import click

from app.accounts.models import Role
from app.core import migrations
from app.core.errors import ApiError
from app.core.settings import get_settings

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
FHIR_OPEN_WARNING = (
    "!!! ATTENTION : ORIENTATION_FHIR_CLIENT_AUTH=none, /fhir est OUVERT À TOUS, sans certificat du SAS.\n"
    "!!! N'importe qui peut y créer des comptes de régulation et obtenir les liens de réservation.\n"
    "!!! Réservé au développement et à la démonstration : en production, 'tls' ou 'proxy'."
)


@click.group()
def main() -> None:
    """Orientation: médecin traitant, soins non programmés and SAS for a CPTS."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option(
    "--migrate/--no-migrate", default=True, show_default=True, help="Apply the database migrations before starting."
)
@click.option("--with-worker", is_flag=True, help="Also deliver the outbox's messages (for the demo).")
def serve(host: str, port: int, workers: int, migrate: bool, with_worker: bool) -> None:
    """Start the web service (uvicorn)."""
    import uvicorn

    from app.core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.fhir_client_auth == "none":
        click.secho(FHIR_OPEN_WARNING, err=True, fg="red", bold=True)
    _refuse_a_broken_sas_push(settings)
    if migrate:
        migrations.upgrade()
    if with_worker:
        _start_worker_thread()
    scheme = "https" if settings.tls_certfile else "http"
    links = (
        settings.public_url
        or f"{scheme}://{host}:{port} (l'adresse de ce serveur ; ORIENTATION_PUBLIC_URL la remplace)"
    )
    click.echo(f"Orientation : {scheme}://{host}:{port} ; liens envoyés : {links}", err=True)
    uvicorn.run(
        "app.main:create_production_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # it would print query strings: postcodes, addresses
        # The application alone reads X-Forwarded-For (TRUSTED_PROXIES, app/core/proxies.py):
        # uvicorn's own rewriting would hide the proxy's address that the checks need.
        proxy_headers=False,
        log_config=None,
        **_tls_options(settings),
    )


def _tls_options(settings) -> dict:
    """HTTPS served by uvicorn itself; with a client CA, client certificates are verified
    (optional on the handshake, so that browsers reach the web pages; /fhir demands one)."""
    if not settings.tls_certfile:
        return {}
    import ssl

    from app.core.tls import ClientCertProtocol

    options: dict = {
        "ssl_certfile": str(settings.tls_certfile),
        "ssl_keyfile": str(settings.tls_keyfile or settings.tls_certfile),
    }
    if settings.tls_client_ca_file:
        options |= {
            "ssl_ca_certs": str(settings.tls_client_ca_file),
            "ssl_cert_reqs": ssl.CERT_OPTIONAL,
            "http": ClientCertProtocol,
        }
    return options


def _refuse_a_broken_sas_push(settings) -> None:
    """With ORIENTATION_SAS_BASE_URL set, the push must be able to work: mutual TLS with a
    valid certificate, and our own identifier system (the SAS keys updates on it)."""
    from app.core.database import utcnow
    from app.notifications.senders import sas_push_problems

    problems = sas_push_problems(settings, utcnow())
    if problems:
        raise click.ClickException(
            "envoi des rendez-vous au SAS mal configuré (voir docs/sas.md) :\n- " + "\n- ".join(problems)
        )


def _start_worker_thread():
    import threading

    from app.core.database import get_sessionmaker
    from app.notifications.outbox import OutboxWorker

    stop = threading.Event()
    worker = OutboxWorker(get_settings(), get_sessionmaker())
    threading.Thread(target=worker.run_forever, args=(stop,), daemon=True, name="outbox-worker").start()
    return stop


@main.command()
@click.option("--once", is_flag=True, help="Send what is due, then stop.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between two looks at the outbox.")
def worker(once: bool, interval: float) -> None:
    """Deliver the outbox's messages (e-mail, SMS), with retries and backoff; apply the
    retention of personal data once a day; send the coordinators' weekly digest; ask matched
    patients about their first appointment, and send the yearly satisfaction questionnaire."""
    import signal
    import threading

    from app.core.database import get_sessionmaker
    from app.core.logging import configure_logging
    from app.notifications.outbox import OutboxWorker

    settings = get_settings()
    configure_logging(settings.log_level)
    _refuse_a_broken_sas_push(settings)
    migrations.upgrade()
    outbox = OutboxWorker(settings, get_sessionmaker())
    if once:
        click.echo(f"{outbox.run_once()} message(s) sent")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    outbox.run_forever(stop, interval)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION (default: the latest)."""
    migrations.upgrade(revision)
    click.echo(f"database at revision {migrations.current_revision()}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION (`base` removes every table)."""
    migrations.downgrade(revision)
    click.echo(f"database at revision {migrations.current_revision()}")


@db.command("current")
def db_current() -> None:
    """Show the database's revision and the latest one."""
    click.echo(f"current: {migrations.current_revision()}  head: {migrations.head_revision()}")


@main.command()
def demo() -> None:
    """Create (or restore) the demo territories. Safe to run again."""
    from app.core.database import get_sessionmaker
    from app.demo import load_demo
    from app.demo_people import DEMO_PASSWORD, load_demo_accounts, load_demo_doctors, load_demo_requests
    from app.geocoding.service import build_geocoding_service
    from app.territories.communes import get_commune_index

    migrations.upgrade()
    sessions = get_sessionmaker()
    with sessions() as session:
        for line in _or_exit(lambda: load_demo(session, get_commune_index())):
            click.echo(line)
        geocoding = build_geocoding_service(get_settings(), sessions)
        added = _or_exit(lambda: load_demo_doctors(session, geocoding, get_commune_index()))
        click.echo(f"{added} demo doctors added")
        requests_added = load_demo_requests(session, geocoding, get_commune_index())
        click.echo(f"{requests_added} demo requests added")
        accounts = load_demo_accounts(session)
        from app.snp.demo import load_demo_regulator, load_demo_slots

        slots_added = load_demo_slots(session, geocoding)
        click.echo(f"{slots_added} demo unscheduled-care slots added")
        load_demo_regulator(session)
    from app.directory.demo import load_demo_directory

    for report in _or_exit(lambda: load_demo_directory(sessions, geocoding)):
        click.echo(
            f"demo directory, {report.territory_name}: {report.practitioners} GPs "
            f"({report.volunteers} volunteers), {report.added} added, {report.gone} gone"
        )
    click.echo(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
    for email, role, cpts in accounts:
        click.echo(f"  {role:13s} {email:45s} CPTS: {cpts}")


@main.command()
@click.option("--output", type=click.Path(path_type=Path), default=OPENAPI_PATH, show_default=True)
@click.option("--check", is_flag=True, help="Fail if the file differs from what the code describes.")
def openapi(output: Path, check: bool) -> None:
    """Write the OpenAPI document of the HTTP API."""
    from app.openapi import render_openapi

    rendered = render_openapi()
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != rendered:
            click.echo(f"{output} is out of date: run `orientation openapi`", err=True)
            sys.exit(1)
        click.echo(f"{output} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(rendered, encoding="utf-8")
    click.echo(f"wrote {output}")


@main.group()
def retention() -> None:
    """Retention of personal data (also run daily by the worker)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
def retention_run(dry_run: bool) -> None:
    """Erase the personal data whose retention period is over; print the counts."""
    from app.core.database import get_sessionmaker
    from app.core.logging import configure_logging
    from app.privacy import retention as rules

    settings = get_settings()
    configure_logging(settings.log_level)
    migrations.upgrade()
    with get_sessionmaker()() as session:
        counts = rules.run(session, settings, dry_run=dry_run)
    verb = "to erase" if dry_run else "erased"
    for name, number in counts.as_dict().items():
        click.echo(f"{name:22s} {number:8d} {verb}")


@main.group()
def territories() -> None:
    """CPTS territories."""


@territories.command("list")
def territories_list() -> None:
    """List the CPTS of this deployment."""
    from app.core.database import get_sessionmaker
    from app.territories import repository

    with get_sessionmaker()() as session:
        for territory in repository.list_territories(session):
            click.echo(f"{territory.slug}\t{territory.name}\t{len(territory.communes)} communes")


@territories.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--finess", required=True)
@click.option("--phone", required=True)
@click.option("--email", required=True)
@click.option(
    "--commune",
    "commune_refs",
    multiple=True,
    help='An INSEE code ("62041") or "postcode name" ("13790 Rousset"). Repeatable.',
)
@click.option(
    "--communes-file",
    type=click.File(encoding="utf-8"),
    help="A file with one commune a line, written as for --commune.",
)
def territories_create(
    slug: str,
    name: str,
    finess: str,
    phone: str,
    email: str,
    commune_refs: tuple[str, ...],
    communes_file,
) -> None:
    """Create a CPTS from its communes."""
    from app.core.database import get_sessionmaker
    from app.territories.communes import get_commune_index
    from app.territories.schemas import TerritoryCreate
    from app.territories.service import create_territory

    lines = list(commune_refs) + (communes_file.read().splitlines() if communes_file else [])
    refs = [_commune_ref(line) for line in lines if line.strip() and not line.startswith("#")]
    data = _validated(TerritoryCreate, slug=slug, name=name, finess=finess, phone=phone, email=email, communes=refs)
    migrations.upgrade()
    with get_sessionmaker()() as session:
        territory = _committed(session, lambda: create_territory(session, data, get_commune_index()))
        click.echo(f"created {territory.slug} ({len(territory.communes)} communes)")


@main.group()
def users() -> None:
    """Accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", help="Display name (default: the e-mail).")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--cpts", "cpts", multiple=True, help="Slug of a CPTS it belongs to. Repeatable.")
@click.option("--doctor-rpps", help="For role doctor: the RPPS of its registry entry.")
@click.option("--organisation", help="For a professional: the tag of its pharmacy's (practice's…) source.")
@click.option("--password", help="Default: asked for (or generated with --generate-password).")
@click.option("--generate-password", is_flag=True, help="Generate a password and print it once.")
def users_create(
    email: str,
    display_name: str | None,
    role: str,
    cpts: tuple[str, ...],
    doctor_rpps: str | None,
    organisation: str | None,
    password: str | None,
    generate_password: bool,
) -> None:
    """Create an account (the first admin, notably)."""
    import secrets

    from app.accounts.schemas import UserCreate
    from app.accounts.service import create_user
    from app.core.database import get_sessionmaker

    if generate_password:
        password = secrets.token_urlsafe(12)
    elif password is None:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    data = _validated(
        UserCreate,
        email=email,
        display_name=display_name or email,
        role=role,
        password=password,
        cpts=list(cpts),
        doctor_rpps=doctor_rpps,
        organisation=organisation,
    )
    migrations.upgrade()
    with get_sessionmaker()() as session:
        user = _committed(session, lambda: create_user(session, data, None))
    click.echo(f"created user {user.email} ({user.role})")
    if generate_password:
        click.echo(f"password: {password}")


@main.group()
def doctors() -> None:
    """Volunteer doctors."""


@doctors.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cpts", required=True, help="Slug of the CPTS.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even if others are not.")
def doctors_import(file: Path, cpts: str, skip_invalid: bool) -> None:
    """Import (upsert by RPPS) doctors from a CSV file with French headers."""
    import time

    from app.accounts.principal import operator
    from app.core.database import get_sessionmaker
    from app.doctors.importer import import_doctors
    from app.geocoding.service import build_geocoding_service

    migrations.upgrade()
    sessions = get_sessionmaker()
    geocoding = build_geocoding_service(get_settings(), sessions)
    started = time.perf_counter()
    with sessions() as session:
        report = _committed(
            session,
            lambda: import_doctors(session, geocoding, operator(), cpts, file.read_bytes(), skip_invalid=skip_invalid),
        )
    for problem in report.problems:
        click.echo(f"line {problem.line}: {problem.reason}", err=True)
    state = "written" if report.written else "NOTHING WRITTEN (fix the lines above, or --skip-invalid)"
    click.echo(
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.invalid} invalid: {state} ({time.perf_counter() - started:.1f} s)"
    )
    if not report.written:
        sys.exit(1)


@main.group()
def directory() -> None:
    """The national directory of health professionals (Annuaire Santé, RPPS)."""


@directory.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--territory", default=None, help="Slug of one CPTS (default: every CPTS of the deployment).")
def directory_import(file: Path, territory: str | None) -> None:
    """Import the GPs of the CPTS's communes from the RPPS extraction
    (PS_LibreAcces_Personne_activite_*.txt, or its .zip / .gz), read as a stream."""
    from app.accounts.principal import operator
    from app.core.database import get_sessionmaker
    from app.directory.service import import_directory, report_lines
    from app.geocoding.service import build_geocoding_service

    migrations.upgrade()
    sessions = get_sessionmaker()
    geocoding = build_geocoding_service(get_settings(), sessions)

    def progress(lines: int) -> None:
        click.echo(f"… {lines} lignes lues", err=True)

    with file.open("rb") as raw:
        reports = _or_exit(
            lambda: import_directory(
                sessions, geocoding, operator(), raw, file.name, territory=territory, on_progress=progress
            )
        )
    if not reports:
        click.echo("Aucune CPTS dans ce déploiement : rien à importer.")
    for report in reports:
        for line in report_lines(report):
            click.echo(line)


def _commune_ref(line: str) -> str | dict[str, str]:
    text = line.strip()
    head, _, rest = text.partition(" ")
    if rest and head.isdigit() and len(head) == 5:
        return {"postcode": head, "name": rest.strip()}
    return text


def _validated(model, **values):
    """The model, or each invalid field on stderr and exit code 2."""
    from pydantic import ValidationError

    from app.core.errors import field_errors_from_validation

    try:
        return model(**values)
    except ValidationError as exc:
        for error in field_errors_from_validation(exc.errors()):
            click.echo(f"{error.field}: {error.message}", err=True)
        sys.exit(2)


def _committed(session, action):
    """Runs an action and commits it: a command is its own unit of work (the services only
    flush). A broken known constraint (a rival write meanwhile) is the API's 409 message."""
    from sqlalchemy.exc import IntegrityError

    from app.core.constraints import conflict_for

    def run():
        result = action()
        try:
            session.commit()
        except IntegrityError as error:
            session.rollback()
            raise conflict_for(error) or error from None
        return result

    return _or_exit(run)


def _or_exit(action):
    """Run an action; an ApiError becomes a readable message and exit code 1."""
    try:
        return action()
    except ApiError as exc:
        click.echo(f"error: {exc.message}", err=True)
        for field in exc.fields:
            click.echo(f"  {field.field}: {field.message}", err=True)
        sys.exit(1)

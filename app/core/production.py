"""What production needs: with ENVIRONMENT=production, `orientation serve` and `orientation
worker` refuse to start until every item below is right, and list all that is not at once
(French, for the operator; docs/deploy.md explains each). The SAS push has its own checks
(app/notifications/senders.sas_push_problems), run whatever the environment."""

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.core.settings import Settings

# Values from the documentation and the tests that must never sign a production link.
KNOWN_SECRETS = {"test-secret-key", "change-me", "changeme", "secret", "dev", "demo"}
MIN_SECRET_LENGTH = 32
PLACEHOLDER_SENDER = "orientation.invalid"


def _secret_problem(settings: Settings) -> str | None:
    if settings.secret_key:
        key = settings.secret_key.strip()
        if key.lower() in KNOWN_SECRETS or len(key) < MIN_SECRET_LENGTH:
            return (
                f"ORIENTATION_SECRET_KEY est une valeur d'exemple ou trop courte (au moins {MIN_SECRET_LENGTH} "
                "caractères aléatoires : python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return None
    if "secret_key_file" in settings.model_fields_set and settings.secret_key_file.exists():
        return None  # a file put there on purpose (a container's secret, one host)
    return (
        "ORIENTATION_SECRET_KEY manque (ou ORIENTATION_SECRET_KEY_FILE vers un fichier existant) : la clé "
        "créée d'office dans var/ diffère d'un hôte à l'autre et se perd avec le disque"
    )


def _database_problem(settings: Settings) -> str | None:
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return "ORIENTATION_DATABASE_URL n'est pas une URL de base de données"
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return "ORIENTATION_DATABASE_URL désigne une base SQLite en mémoire : tout serait perdu à l'arrêt"
    return None


def _fhir_problems(settings: Settings) -> list[str]:
    if settings.fhir_client_auth == "none":
        return ["ORIENTATION_FHIR_CLIENT_AUTH=none ouvre /fhir à tous : 'tls' ou 'proxy' (docs/deploy.md)"]
    problems = []
    if not settings.fhir_allowed_subjects.strip():
        problems.append(
            "ORIENTATION_FHIR_ALLOWED_SUBJECTS manque : le sujet du certificat du SAS (sinon /fhir refuse tout)"
        )
    if settings.fhir_client_auth == "tls" and not (settings.tls_certfile and settings.tls_client_ca_file):
        problems.append(
            "ORIENTATION_FHIR_CLIENT_AUTH=tls demande ORIENTATION_TLS_CERTFILE et ORIENTATION_TLS_CLIENT_CA_FILE "
            "(ou 'proxy' derrière nginx, docs/deploy.md)"
        )
    if settings.fhir_client_auth == "proxy" and not settings.fhir_trusted_proxies.strip():
        problems.append("ORIENTATION_FHIR_TRUSTED_PROXIES manque : l'adresse du proxy qui vérifie les certificats")
    return problems


def _messaging_problems(settings: Settings) -> list[str]:
    problems = []
    if not settings.smtp_host:
        problems.append("ORIENTATION_SMTP_HOST manque : les e-mails seraient écrits dans un fichier, pas envoyés")
    if PLACEHOLDER_SENDER in settings.mail_from:
        problems.append("ORIENTATION_MAIL_FROM est l'adresse d'exemple : l'expéditeur de vos e-mails")
    if settings.sms_provider == "file":
        problems.append("ORIENTATION_SMS_PROVIDER=file : les SMS seraient écrits dans un fichier, pas envoyés")
    elif settings.sms_provider == "http" and not (settings.sms_endpoint or "").startswith("https://"):
        # A provider's own credentials are checked by its sender's checks, whatever the environment.
        problems.append("ORIENTATION_SMS_ENDPOINT manque ou n'est pas en https:// : le relais des SMS")
    return problems


def production_problems(settings: Settings, workers: int = 1) -> list[str]:
    """Everything that keeps this configuration from production; empty when all is set.
    `workers`: uvicorn processes of this host (the rate limits must then be shared)."""
    problems = [problem for problem in (_secret_problem(settings), _database_problem(settings)) if problem is not None]
    if not (settings.public_url or "").startswith("https://"):
        problems.append("ORIENTATION_PUBLIC_URL manque ou n'est pas en https:// : l'adresse publique des liens envoyés")
    problems += _fhir_problems(settings)
    problems += _messaging_problems(settings)
    if not settings.require_second_factor:
        problems.append(
            "ORIENTATION_REQUIRE_SECOND_FACTOR=true : coordinateurs et administrateurs voient les patients de leur CPTS"
        )
    if settings.password_hash_cost != "standard":
        problems.append("ORIENTATION_PASSWORD_HASH_COST n'est pas 'standard' (réservé aux tests)")
    if workers > 1 and settings.rate_limit_store != "database":
        problems.append(
            "ORIENTATION_RATE_LIMIT_STORE=database est nécessaire avec plusieurs processus (--workers) ou hôtes : "
            "sinon chaque processus compte à part"
        )
    return problems

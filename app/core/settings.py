"""Settings, read once from environment variables prefixed ``ORIENTATION_``."""

import secrets
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "orientation.sqlite3"
# Not an identifier system of anyone's: a deployment that pushes to the SAS sets its own.
PLACEHOLDER_APPOINTMENT_SYSTEM = "https://orientation.invalid/fhir/appointment-id"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORIENTATION_", extra="ignore")

    # "production": `orientation serve` and `worker` refuse to start while a setting production
    # needs is missing or left at its demo value (app/core/production.py lists them, docs/deploy.md).
    environment: Literal["development", "production"] = "development"

    # SQLite by default so that nothing has to be installed; PostgreSQL in production,
    # e.g. postgresql+psycopg://user:password@host:5432/orientation
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    # A read replica of that PostgreSQL (a hot standby fed by streaming replication, see
    # docs/deploy.md): the SAS feed and the searches read there; every write, and the booking
    # itself, stays on DATABASE_URL, which also confirms that what a replica offers as free is
    # still free. Unset: everything reads the primary.
    read_database_url: str | None = Field(default=None, repr=False)
    # Base URL of a BAN / Addok geocoder (https://api-adresse.data.gouv.fr or a self-hosted
    # Addok). Unset: addresses are located offline, at the commune's centroid.
    ban_url: str | None = None
    ban_timeout_seconds: float = 3.0
    # Below this BAN score a match is too doubtful to trust; we fall back to the commune.
    ban_min_score: float = 0.5
    geocode_cache_days: int = 180
    # Signs the links e-mailed to doctors. Unset: a random key is created once and kept in
    # secret_key_file, so that links survive a restart. Set it when running several hosts.
    secret_key: str | None = Field(default=None, repr=False)
    secret_key_file: Path = Path("var") / "secret_key"
    session_hours: float = 10.0  # a working day; then sign in again
    # Cookies are sent with Secure whenever the request came over HTTPS (see app/core/proxies.py);
    # this forces it for every request, e.g. behind a proxy whose address is not trusted.
    cookie_secure: bool = False
    # Behind reverse proxies, take the client address from X-Forwarded-For: the rightmost
    # entry not in trusted_proxies, and only when the peer itself is one of them.
    trust_forwarded_for: bool = False
    # Addresses or networks (CIDR) of our own reverse proxies, comma-separated.
    trusted_proxies: str = "127.0.0.1,::1"
    # Sign-in: after this many failures in a row for one e-mail address (an account or not),
    # each further try waits 1, 2, 4… seconds after the last failure, at most
    # login_delay_max_seconds; failures are forgotten after login_failures_kept_minutes.
    max_failed_logins: int = 5
    login_delay_max_seconds: int = 60
    login_failures_kept_minutes: int = 60
    confirmation_link_days: int = 30
    # Offers of a patient to doctors (app/requests/offers.py): how long a doctor has to answer
    # before the offer lapses (and, in the automatic mode, goes to the next doctor).
    offer_answer_hours: int = Field(default=72, ge=1, le=24 * 30)
    # A doctor who has not answered gets one reminder this many hours after the offer (the same
    # link, by the same channels), if the offer is still open then; 0: no reminder.
    offer_reminder_after_hours: int = Field(default=48, ge=0, le=24 * 30)
    # Accounts made in the workspace (app/accounts/links.py): the invitation's link to choose a
    # password, and the "Mot de passe oublié" link, each spent once used.
    invitation_link_hours: int = Field(default=48, ge=1, le=24 * 30)
    password_reset_link_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # Coordinators and admins see every patient of their CPTS: when set, their sessions reach
    # no page nor endpoint before a second factor (TOTP, or a strong sign-in such as Pro Santé
    # Connect), and their API tokens count only when created from such a session. Off in the demo.
    require_second_factor: bool = False
    # Outgoing e-mail (SMTP). Unset host: e-mails are written to mail_file (demo only!).
    smtp_host: str | None = None
    mail_file: Path = Path("var") / "mail.log"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    mail_from: str = "Orientation <ne-pas-repondre@orientation.invalid>"
    # The Message-ID domain of our e-mails: unset, PUBLIC_URL's host, else mail_from's domain.
    mail_message_id_domain: str | None = None
    # SMS (README, "SMS providers"): "file" writes them to sms_file (the demo); "brevo" and
    # "twilio" send them through that provider's API, with delivery receipts on
    # /webhooks/sms/{provider}; "http" POSTs generic JSON to sms_endpoint (a relay of your own).
    sms_provider: Literal["file", "brevo", "twilio", "http"] = "file"
    sms_file: Path = Path("var") / "sms.log"
    # "http": the relay's URL. "brevo"/"twilio": their API's base URL, unset for the provider's own.
    sms_endpoint: str | None = None
    # Brevo's API key (api-key header); Twilio's Auth Token; the relay's bearer key. Or in a file.
    sms_api_key: str | None = Field(default=None, repr=False)
    sms_api_key_file: Path | None = None
    # Twilio's Account SID (AC…), the user name of its basic authentication.
    sms_account_sid: str | None = None
    # Brevo: the token its webhook sends (Authorization: Bearer …, or the password of basic
    # authentication); unset, Brevo's receipts are refused. Or in a file. Twilio signs its own.
    sms_webhook_secret: str | None = Field(default=None, repr=False)
    sms_webhook_secret_file: Path | None = None
    # The name the SMS comes from (alphanumeric sender ID): 11 letters or digits at most, as
    # the networks allow; registered with the provider beforehand.
    sms_sender: str = "CPTS"
    # An SMS handed to a provider with no delivery receipt after this long is "unknown" (never
    # taken as delivered).
    sms_receipt_hours: int = Field(default=48, ge=1, le=24 * 30)
    # Delivery receipts posted by the SMS provider, per address and minute.
    webhooks_per_minute: int = Field(default=600, ge=1)
    outbox_max_attempts: int = 10
    # Public endpoints' limits per client address and minute. "database" shares the counts
    # between workers and hosts; "memory" keeps them in each process.
    rate_limit_store: str = "memory"
    intake_per_minute: int = 10
    lookups_per_minute: int = 120
    max_body_bytes: int = 256 * 1024  # CSV imports have their own, larger cap
    # The national directory's upload (/espace/annuaire/import): the extraction is ~760 MB,
    # streamed to a temporary file (TMPDIR), never held in memory.
    directory_upload_max_bytes: int = 1536 * 1024 * 1024
    log_level: str = "INFO"
    # /metrics (Prometheus text format, app/core/metrics.py). Closed by default: a 404 until one
    # of these is set. With a token, the scraper sends `Authorization: Bearer <token>` (else 401);
    # with an allow-list (addresses or CIDR networks, comma-separated; the client address as
    # TRUSTED_PROXIES decides it), other clients get a 404. Both set: both are required.
    metrics_token: str | None = Field(default=None, repr=False)
    metrics_allowed_clients: str = ""
    # Public base URL of the service, used in links we hand out. Unset: the address the server
    # answers on (scheme, host and port of `orientation serve`); set it behind a reverse proxy.
    public_url: str | None = None
    # The workspace's map tiles ({z}/{x}/{y}); empty: no tiles, the markers and the list still
    # show. Point it at a tile server you may use (OpenStreetMap's has a usage policy).
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_attribution: str = "© les contributeurs d'OpenStreetMap"

    # --- Privacy (RGPD): what the "Confidentialité" page tells people (app/privacy/notice.py) ---
    # The data controller: unset, each CPTS is the controller of its own requests (its name and
    # contact details as registered); set them when one legal entity runs the deployment.
    privacy_controller_name: str | None = None
    privacy_controller_address: str | None = None
    # The data protection officer (DPO): an e-mail address or postal address people can write to.
    privacy_dpo_contact: str | None = None
    # Who hosts the service and its database (an HDS-certified host for health data).
    privacy_host: str | None = None
    # How long personal data is kept: the retention_* settings below, which the page shows.

    # --- The SAS platform (FHIR R4) ---
    # Where booked appointments are pushed (FrAppointmentSAS), https. Unset: nothing is pushed.
    # Every call is mutual TLS (the guide's security page: IGC-Santé certificates, TLS >= 1.2):
    # `orientation serve` and `worker` refuse to start with a push but no certificate.
    sas_base_url: str | None = None
    # An optional Bearer token sent as well, if the platform gives one (never instead of TLS).
    sas_api_key: str | None = Field(default=None, repr=False)
    # Our client certificate (IGC-Santé, "serveur applicatif"): PEM (the chain, with the key
    # or with sas_client_keyfile) or PKCS#12 (.p12/.pfx, certificate and key in one file).
    sas_client_certfile: Path | None = None
    sas_client_keyfile: Path | None = None
    # A file holding the passphrase of the PEM key or of the PKCS#12 file (not the value itself).
    sas_client_key_password_file: Path | None = None
    # The CA bundle the platform's server certificate is checked against (IGC-Santé's chain:
    # it is in no system store); its host name is checked too.
    sas_ca_file: Path | None = None
    # Our "autorité d'affectation" for appointment identifiers: an OID (urn:oid:…) or a URL of
    # our own. The SAS keys every later update on it: the placeholder refuses the push at start.
    appointment_identifier_system: str = PLACEHOLDER_APPOINTMENT_SYSTEM
    # How the SAS platform proves who it is on /fhir: "tls" (uvicorn verifies the client
    # certificate against tls_client_ca_file) or "proxy" (a reverse proxy verified it and passes
    # its subject in fhir_proxy_subject_header; only requests from fhir_trusted_proxies are
    # believed). Closed by default: without a certificate every /fhir call is refused (401).
    # "none" opens /fhir to anyone, for development and the demo only, and must be set on purpose.
    fhir_client_auth: Literal["tls", "proxy", "none"] = "tls"
    # How long the booking links of a /fhir answer (Slot.comment) let a regulator in.
    sas_booking_link_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # How many practitioners' fragments of the SAS feed each worker keeps (app.fhir.feed);
    # 0 builds every answer from the database.
    sas_feed_cache_practitioners: int = Field(default=5_000, ge=0, le=1_000_000)
    # Subjects allowed on /fhir, each a list of RDN=value that must all be present in the
    # certificate's subject, e.g. "CN=sas.sante.fr,OU=SAS" (separate several with ';').
    fhir_allowed_subjects: str = ""
    fhir_proxy_subject_header: str = "X-SSL-Client-S-DN"
    fhir_proxy_verify_header: str = "X-SSL-Client-Verify"
    fhir_trusted_proxies: str = "127.0.0.1,::1"
    # TLS served by uvicorn itself (orientation serve): certificate, key, and the CA bundle
    # against which client certificates are verified.
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    tls_client_ca_file: Path | None = None
    # Argon2id's cost for new password hashes. "standard" (argon2-cffi's defaults, RFC 9106's
    # low-memory choice: 64 MiB, 3 passes) everywhere but in the test suite, which sets
    # "test-only-cheap" to hash hundreds of accounts in milliseconds. Warned about at start.
    password_hash_cost: Literal["standard", "test-only-cheap"] = "standard"

    # --- Pro Santé Connect (the ANS's OpenID Connect provider for health professionals) ---
    # Unset discovery URL, client id or secret: no PSC sign-in, the button is not shown.
    # Production: https://auth.esante.gouv.fr/auth/realms/esante-wallet/.well-known/openid-configuration
    psc_discovery_url: str | None = None
    psc_client_id: str | None = None
    psc_client_secret: str | None = Field(default=None, repr=False)
    # Or the secret in a file (a container's secret), read at each sign-in.
    psc_client_secret_file: Path | None = None
    psc_scopes: str = "openid scope_all"
    # The authentication level asked for (eidas1: CPS card or e-CPS); an ID token with another
    # `acr` is refused. Several values: separated by spaces.
    psc_acr_values: str = "eidas1"
    psc_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # How long a person has, from the button to its return from PSC.
    psc_sign_in_minutes: int = Field(default=10, ge=1, le=60)

    # --- Retention of personal data (app/privacy/retention.py), run daily by the worker ---
    # A closed or matched médecin-traitant request: its personal data erased this long after
    # its closure (the anonymous facts the indicators count are kept).
    retention_closed_request_months: int = Field(default=12, ge=1, le=120)
    # A request out of territory, or closed because the patient withdrew or could not be
    # reached: erased this long after its last event.
    retention_abandoned_request_months: int = Field(default=3, ge=1, le=120)
    # An unscheduled-care booking: the patient's fields erased this long after the slot.
    retention_snp_booking_months: int = Field(default=3, ge=1, le=120)
    # Outbox messages sent or failed for good: recipient and body erased after these days.
    retention_outbox_days: int = Field(default=30, ge=1, le=3650)
    # The audit trail (no personal data of patients): rows older than this are dropped.
    retention_audit_months: int = Field(default=36, ge=12, le=240)
    # Accounts: deactivated after this long without signing in, erased this long after that.
    retention_account_inactive_months: int = Field(default=24, ge=1, le=240)
    retention_account_erase_months: int = Field(default=12, ge=1, le=240)
    # Rows changed per transaction by a retention run.
    retention_batch_size: int = Field(default=500, ge=1, le=10000)

    # --- The coordination's daily tools ---
    # A request open for longer than this many days is highlighted in the queue ("en attente
    # depuis N jours") and counted on the queue and the indicators.
    waiting_alert_days: int = Field(default=14, ge=1, le=365)
    # The weekly digest e-mailed by the worker to each CPTS's coordinators (counts only).
    weekly_digest: bool = True

    # --- Closing the loop (app/requests/outcomes.py), run by the worker ---
    # This many days after the match, the patient is asked (by the channel they chose) whether
    # the first appointment took place and whether the doctor declared them as médecin traitant.
    follow_up_confirmation_days: int = Field(default=21, ge=1, le=365)
    # The day (MM-DD, Paris) from which each year's satisfaction questionnaire goes to every
    # patient matched that year; empty: none is sent.
    satisfaction_date: str = "12-15"

    @field_validator("satisfaction_date")
    @classmethod
    def _month_day(cls, value: str) -> str:
        value = value.strip()
        if value:
            from datetime import date

            try:
                month, day = (int(part) for part in value.split("-"))
                date(2024, month, day)  # a leap year: 02-29 is a day, sent on the 1st of March otherwise
            except ValueError as exc:
                raise ValueError("satisfaction_date: MM-DD, e.g. 12-15") from exc
        return value

    @field_validator("sms_sender")
    @classmethod
    def _sender_name(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z0-9]{1,11}", value):
            raise ValueError(
                "ORIENTATION_SMS_SENDER : le nom d'expéditeur des SMS a 11 caractères au plus, lettres sans "
                f"accent et chiffres seulement, sans espace (ex. CPTSArras) ; reçu {value!r}."
            )
        return value

    @field_validator("trusted_proxies", "metrics_allowed_clients")
    @classmethod
    def _networks(cls, value: str, info: ValidationInfo) -> str:
        import ipaddress

        try:
            for part in value.split(","):
                if part.strip():
                    ipaddress.ip_network(part.strip(), strict=False)
        except ValueError:
            name = (info.field_name or "").upper()
            raise ValueError(f"{name}: adresses ou réseaux (CIDR) séparés par des virgules.") from None
        return value

    @field_validator("psc_discovery_url", "psc_client_id", "psc_client_secret", "metrics_token")
    @classmethod
    def _psc_unset_when_empty(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @field_validator("read_database_url")
    @classmethod
    def _replica_is_postgres(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value else None
        if not value:
            return None
        primary = str(info.data.get("database_url", ""))
        if not (value.startswith("postgresql") and primary.startswith("postgresql")):
            raise ValueError(
                "READ_DATABASE_URL : une réplique en lecture d'une base PostgreSQL (DATABASE_URL et "
                "READ_DATABASE_URL en postgresql://…) ; SQLite n'en a pas."
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _unset_when_empty(cls, value: str | None) -> str | None:
        return value.strip().rstrip("/") or None if value else None


@cache
def get_settings() -> Settings:
    return Settings()


def secret_value(value: str | None, path: Path | None) -> str | None:
    """A secret given in a setting or, for a container's secrets, in a file (read when used)."""
    if value:
        return value
    if path is not None:
        return path.read_text(encoding="utf-8").strip() or None
    return None


def secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()

"""How messages leave: e-mail by SMTP; SMS through a provider (HTTP) or into a file (demo)."""

import json
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

import httpx

from app.core.settings import PLACEHOLDER_APPOINTMENT_SYSTEM, Settings


class DeliveryError(Exception):
    """`permanent`: the recipient or the message was refused; retrying will not help.
    `retry_after`: the other side asked us to wait at least this long (a 429's Retry-After)."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class ProviderReceipt:
    """Who took an SMS and under which id: its delivery receipt will name that id."""

    provider: str
    message_id: str


class Accepted(Protocol):
    """What a sender calls the moment the server or provider has accepted the message, before
    anything else: the worker records it as sent there (see OutboxWorker), with the provider's
    message id when there is one."""

    def __call__(self, receipt: ProviderReceipt | None = None) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    key: str
    channel: str
    recipient: str
    subject: str | None
    body: str


class Sender(Protocol):
    def send(self, message: Outgoing, accepted: Accepted) -> None:
        """Delivers the message and calls `accepted` the moment the other side has taken it
        (before anything else, e.g. closing the connection); or raises DeliveryError."""


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpSender needs ORIENTATION_SMTP_HOST")
        self.settings = settings
        self.host = settings.smtp_host

    def send(self, message: Outgoing, accepted: Accepted) -> None:
        s = self.settings
        email = EmailMessage()
        email["From"] = s.mail_from
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=False)
        # The same Message-ID on every attempt: a copy that got through before an unclear
        # failure is recognised as a duplicate by the receiving side.
        email["Message-ID"] = message_id(message, message_id_domain(s))
        email.set_content(message.body)
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(self.host, s.smtp_port, timeout=15)
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            _close(smtp)
            codes = {code for code, _ in exc.recipients.values()}
            raise DeliveryError(f"recipient refused {sorted(codes)}", permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise DeliveryError(f"smtp {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            raise DeliveryError(type(exc).__name__) from None
        # The server answered 250 to the data: the message is its now. Recorded before the QUIT,
        # whose failure or slowness must neither delay that nor cause a second copy.
        try:
            accepted()
        finally:
            _close(smtp)


def message_id(message: Outgoing, domain: str = "orientation.invalid") -> str:
    """The e-mail's Message-ID, the same on every attempt of the message, on our domain."""
    return f"<{message.key}@{domain}>"


def message_id_domain(settings: Settings) -> str:
    """MAIL_MESSAGE_ID_DOMAIN; else PUBLIC_URL's host; else the domain of MAIL_FROM."""
    from email.utils import parseaddr
    from urllib.parse import urlsplit

    if settings.mail_message_id_domain:
        return settings.mail_message_id_domain.strip()
    if settings.public_url and urlsplit(settings.public_url).hostname:
        return str(urlsplit(settings.public_url).hostname)
    _, address = parseaddr(settings.mail_from)
    return address.rpartition("@")[2] or "orientation.invalid"


def _close(smtp: smtplib.SMTP | None) -> None:
    """QUIT politely, or just hang up: either way the message's fate is already known."""
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class FileSender:
    """For the demo and development: messages are appended to a file instead of being sent."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: Outgoing, accepted: Accepted) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = {"to": message.recipient, "reference": message.key, "subject": message.subject, "text": message.body}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
        accepted()


class HttpSmsSender:
    """A provider reached by an HTTP POST of JSON {to, text, sender, reference} with a bearer key.
    `reference` is stable across retries, for providers that deduplicate on it."""

    def __init__(
        self, endpoint: str, api_key: str | None, sender: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.endpoint, self.sender = endpoint, sender
        self.client = httpx.Client(
            timeout=10, transport=transport, headers={"Authorization": f"Bearer {api_key or ''}"}
        )

    def send(self, message: Outgoing, accepted: Accepted) -> None:
        payload = {"to": message.recipient, "text": message.body, "sender": self.sender, "reference": message.key}
        try:
            response = self.client.post(self.endpoint, json=payload)
        except httpx.TransportError as exc:
            raise DeliveryError(type(exc).__name__) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryError(f"sms provider {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(f"sms provider {response.status_code}", permanent=True)
        accepted()


class SasAppointmentSender:
    """Pushes FrAppointmentSAS resources to the SAS platform over mutual TLS (`context`, from
    sas_tls_context). `recipient` is the interaction: "POST Appointment" or
    "PUT Appointment?identifier=system|value". A 4xx is the platform refusing the content:
    recorded, not retried; a 5xx, a network or TLS failure is retried."""

    def __init__(
        self,
        base_url: str,
        context: ssl.SSLContext,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=15, transport=transport, headers=headers, verify=context)

    def send(self, message: Outgoing, accepted: Accepted) -> None:
        method, _, target = message.recipient.partition(" ")
        path, _, identifier = target.partition("?identifier=")
        params = {"identifier": identifier} if identifier else None
        try:
            response = self.client.request(
                method, f"{self.base_url}/{path}", params=params, content=message.body.encode()
            )
        except httpx.TransportError as exc:
            raise DeliveryError(_transport_reason(exc)) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryError(f"sas {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(f"sas {response.status_code} {_issue_code(response)}".strip(), permanent=True)
        accepted()


def _transport_reason(exc: httpx.TransportError) -> str:
    """The failure's class; for TLS, OpenSSL's reason (e.g. CERTIFICATE_VERIFY_FAILED, or the
    platform's alert refusing our certificate), which says what to fix and names no one."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLError):
        return f"tls {cause.reason or type(cause).__name__}"
    return type(exc).__name__


def sas_tls_context(settings: Settings) -> tuple[ssl.SSLContext, datetime]:
    """Our mutual-TLS context for the SAS platform, and when our certificate expires."""
    from app.core.tls import client_context

    if settings.sas_client_certfile is None or settings.sas_ca_file is None:
        raise ValueError("ORIENTATION_SAS_CLIENT_CERTFILE and ORIENTATION_SAS_CA_FILE are required for the SAS push")
    return client_context(
        settings.sas_client_certfile,
        settings.sas_client_keyfile,
        settings.sas_client_key_password_file,
        settings.sas_ca_file,
    )


def sas_push_problems(settings: Settings, now: datetime) -> list[str]:
    """Why the push to the SAS platform cannot work as configured (French, for the operator at
    `orientation serve` and `worker`); empty when it is off or ready."""
    if not settings.sas_base_url:
        return []
    problems = []
    if not settings.sas_base_url.startswith("https://"):
        problems.append("ORIENTATION_SAS_BASE_URL doit commencer par https:// (TLS mutuel)")
    system = settings.appointment_identifier_system
    if system == PLACEHOLDER_APPOINTMENT_SYSTEM or ".invalid" in system:
        problems.append(
            "ORIENTATION_APPOINTMENT_IDENTIFIER_SYSTEM est l'exemple fourni : mettez l'OID (urn:oid:…) "
            "ou l'URL de votre structure, sur laquelle le SAS identifie les rendez-vous"
        )
    elif not (system.startswith("urn:oid:") or system.startswith("https://") or system.startswith("http://")):
        problems.append("ORIENTATION_APPOINTMENT_IDENTIFIER_SYSTEM doit être un OID (urn:oid:…) ou une URL")
    if settings.sas_client_certfile is None:
        problems.append("ORIENTATION_SAS_CLIENT_CERTFILE manque : le SAS exige un certificat client IGC-Santé")
    if settings.sas_ca_file is None:
        problems.append("ORIENTATION_SAS_CA_FILE manque : les autorités (IGC-Santé) du certificat du SAS")
    if settings.sas_client_certfile is not None and settings.sas_ca_file is not None:
        try:
            _, expires = sas_tls_context(settings)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            problems.append(f"certificat client, clé, phrase secrète ou autorités illisibles ({type(exc).__name__})")
        else:
            if expires <= now:
                problems.append(f"le certificat client a expiré le {expires:%d/%m/%Y}")
    return problems


def _issue_code(response: httpx.Response) -> str:
    """The OperationOutcome's issue code, never its text (it may quote the patient)."""
    try:
        return str(response.json()["issue"][0]["code"])[:40]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def build_senders(settings: Settings) -> dict[str, Sender]:
    from app.notifications.sms_providers import build_sms_sender

    if settings.sms_provider == "http":
        if not settings.sms_endpoint:
            raise ValueError("ORIENTATION_SMS_ENDPOINT is required with ORIENTATION_SMS_PROVIDER=http")
        sms: Sender = HttpSmsSender(settings.sms_endpoint, settings.sms_api_key, settings.sms_sender)
    elif settings.sms_provider in ("brevo", "twilio"):
        sms = build_sms_sender(settings)
    else:
        sms = FileSender(settings.sms_file)
    # Without an SMTP server (the demo), e-mails go to a file next to the SMS.
    email: Sender = SmtpSender(settings) if settings.smtp_host else FileSender(settings.mail_file)
    senders: dict[str, Sender] = {"email": email, "sms": sms}
    if settings.sas_base_url:
        context, _ = sas_tls_context(settings)
        senders["sas"] = SasAppointmentSender(settings.sas_base_url, context, settings.sas_api_key)
    return senders

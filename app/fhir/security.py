"""Who may call /fhir: the SAS platform, proven by its client certificate (mutual TLS).

Either uvicorn terminates TLS and verified the certificate against our CA bundle (the
subject reaches us through app.core.tls), or a trusted reverse proxy did and passes the
subject in a header. Either way the subject must match the allow-list."""

from fastapi import Request

from app.core.settings import Settings
from app.fhir.outcome import FhirError


def parse_subject(subject: str) -> set[tuple[str, str]]:
    """'CN=sas.sante.fr,OU=SAS,O=ANS' (or '/CN=…/OU=…' as nginx once wrote it) → RDN pairs."""
    separator = "/" if subject.startswith("/") else ","
    pairs = set()
    for part in subject.strip("/").split(separator):
        name, eq, value = part.partition("=")
        if eq:
            pairs.add((name.strip().upper(), value.strip()))
    return pairs


def allowed(subject: str, settings: Settings) -> bool:
    have = parse_subject(subject)
    for entry in settings.fhir_allowed_subjects.split(";"):
        wanted = parse_subject(entry)
        if wanted and wanted <= have:
            return True
    return False


def client_subject(request: Request, settings: Settings) -> str | None:
    if settings.fhir_client_auth == "tls":
        return getattr(request.state, "tls_client_subject", None)
    if settings.fhir_client_auth == "proxy":
        trusted = {a.strip() for a in settings.fhir_trusted_proxies.split(",") if a.strip()}
        if request.client is None or request.client.host not in trusted:
            return None
        if request.headers.get(settings.fhir_proxy_verify_header, "").upper() != "SUCCESS":
            return None
        return request.headers.get(settings.fhir_proxy_subject_header)
    return None


async def require_sas_platform(request: Request) -> None:  # no I/O: no hop to the thread pool
    settings: Settings = request.app.state.settings
    if settings.fhir_client_auth == "none":
        return
    subject = client_subject(request, settings)
    if subject is None:
        raise FhirError(401, "security", "Certificat client absent ou non vérifié.")
    if not allowed(subject, settings):
        raise FhirError(403, "forbidden", "Certificat client non autorisé.")

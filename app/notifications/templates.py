"""French message templates (plain text) for e-mails and SMS."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.core.links import current_base_url
from app.core.settings import get_settings
from app.notifications.gsm import sms_text

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # plain text, never HTML
)

SUBJECTS = {
    "doctor_list": "Des médecins qui peuvent devenir votre médecin traitant",
    "outcome": "Votre demande de médecin traitant",
    "receipt": "Votre demande de médecin traitant est enregistrée",
    "doctor_reminder": "Vos disponibilités pour de nouveaux patients",
    "doctor_invitation": "Devenir médecin volontaire de votre CPTS",
    "snp_booking": "Votre rendez-vous de soins non programmés",
    "regulator_welcome": "Votre accès à la prise de rendez-vous de la CPTS",
    "account_invitation": "Votre compte Orientation : choisissez votre mot de passe",
    "password_reset": "Orientation : changer votre mot de passe",
    "offer": "Un patient sans médecin traitant vous est proposé",
    "offer_withdrawn": "La proposition de patient est close",
    "offer_reminder": "Rappel : un patient sans médecin traitant attend votre réponse",
    "no_doctor_left": "Orientation : une demande sans médecin disponible, à reprendre",
    "weekly_digest": "Orientation : le point de la semaine de la coordination",
    "first_visit": "Votre premier rendez-vous avec votre médecin traitant",
    "satisfaction": "Votre avis sur l'aide de la CPTS",
}


def privacy_url() -> str | None:
    """The "Confidentialité" page every message links to (app/web/privacy_page.py): at the
    address of the request being served, or PUBLIC_URL's (the command line); None without
    either, and the message goes without the link."""
    base = current_base_url.get() or get_settings().public_url
    return f"{base.rstrip('/')}/confidentialite" if base else None


def render(kind: str, channel: str, **context: object) -> tuple[str | None, str]:
    """(subject, body) of a message; SMS have no subject. Every message ends with the link to
    the privacy notice."""
    context.setdefault("privacy_url", privacy_url())
    body = _env.get_template(template_name(kind, channel)).render(**context).strip() + "\n"
    if channel == "sms":
        # Written in the GSM 7-bit alphabet where French allows it (app/notifications/gsm.py):
        # an SMS with one "ê" or "ç" costs twice as much. E-mails keep their spelling.
        return None, sms_text(body)
    return (SUBJECTS[kind] if channel == "email" else None), body


def template_name(kind: str, channel: str) -> str:
    return f"{kind}.{channel}.txt"


def registry() -> list[tuple[str, str]]:
    """Every (kind, channel) a template exists for, from the files themselves: a new template is
    seen by whatever enumerates them (the SMS cost test, the e-mail format test)."""
    found = []
    for path in sorted(TEMPLATES.glob("*.txt")):
        kind, channel, _ = path.name.split(".")
        found.append((kind, channel))
    return found


def source(kind: str, channel: str) -> str:
    """A template's text, for tools that inspect it (its variables)."""
    return (TEMPLATES / template_name(kind, channel)).read_text(encoding="utf-8")


def environment() -> Environment:
    return _env

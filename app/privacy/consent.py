"""The consent text shown to the patient, versioned: the version accepted is stored with each
request (`patient_requests.consent_version`), so the CPTS can show what a person agreed to.

Change a word of the text, and change `TEXT_VERSION`. The stored version also names the
retention period the text promised (`2026-11/12m`): the period is a deployment setting, and a
patient who accepted "un an" was promised a year whatever the setting becomes."""

from dataclasses import dataclass

from app.core.errors import FieldError, Unprocessable
from app.core.settings import Settings, get_settings

TEXT_VERSION = "2026-11"

# {controller}: "la CPTS du Grand Arras" (or "la CPTS"); {period}: "un an", "18 mois"…
_PATIENT_TEXT = (
    "J'accepte que {controller} enregistre ces informations pour me trouver un médecin traitant. "
    "Elles ne servent qu'à cela, ne sont transmises qu'aux médecins proposés et sont effacées "
    "{period} après la clôture de la demande."
)
_ATTESTATION_TEXT = (
    "J'atteste que le patient accepte que {controller} enregistre ces informations pour lui trouver "
    "un médecin traitant (elles ne servent qu'à cela et sont effacées {period} après la clôture)."
)


@dataclass(frozen=True)
class Consent:
    version: str
    patient_text: str  # what the patient ticks on the questionnaire
    attestation_text: str  # what a professional ticks for a patient


def months_in_words(months: int) -> str:
    if months % 12 == 0:
        years = months // 12
        return "un an" if years == 1 else f"{years} ans"
    return f"{months} mois"


def current_consent(settings: Settings, territory_name: str | None = None) -> Consent:
    months = settings.retention_closed_request_months
    words = {"controller": f"la {territory_name}" if territory_name else "la CPTS", "period": months_in_words(months)}
    return Consent(
        version=consent_version(settings),
        patient_text=_PATIENT_TEXT.format(**words),
        attestation_text=_ATTESTATION_TEXT.format(**words),
    )


def consent_version(settings: Settings) -> str:
    return f"{TEXT_VERSION}/{settings.retention_closed_request_months}m"


def accepted_consent_version(offered: str | None) -> str:
    """The version to store with a request: the one the form showed, which must be the current
    one (a form loaded before the text changed is sent back to be read again), or, when a
    client does not say, the current one. The deployment's settings decide the current text."""
    current = consent_version(get_settings())
    if offered is not None and offered != current:
        message = "Le texte d'information a changé depuis l'ouverture du formulaire : relisez-le et cochez à nouveau."
        raise Unprocessable(message, fields=[FieldError(field="consent_version", message=message)])
    return current

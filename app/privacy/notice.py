"""What the "Confidentialité" page tells people (RGPD articles 13 and 14), built from the
deployment's settings: who is responsible, why the data is processed and on what legal basis,
who receives it, how long it is kept (the retention settings themselves, so the page cannot
promise what the retention run does not do), and how to use one's rights."""

from dataclasses import dataclass

from app.core.settings import Settings
from app.privacy.consent import Consent, current_consent, months_in_words

CNIL_COMPLAINT_URL = "https://www.cnil.fr/fr/adresser-une-plainte"
CNIL_ADDRESS = "CNIL, 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07"


@dataclass(frozen=True)
class Controller:
    name: str
    address: str | None
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Processing:
    """One purpose: what it is for, on which legal basis, with which data, sent to whom."""

    purpose: str
    legal_basis: str
    data: str
    recipients: str


@dataclass(frozen=True)
class Retention:
    what: str
    period: str


@dataclass(frozen=True)
class PrivacyNotice:
    controller: Controller
    dpo_contact: str | None
    host: str | None
    processings: list[Processing]
    retention: list[Retention]
    consent: Consent
    rights_contact: str  # where to write to use one's rights


def _days(days: int) -> str:
    return "un jour" if days == 1 else f"{days} jours"


PROCESSINGS = [
    Processing(
        purpose="Trouver un médecin traitant aux personnes qui n'en ont pas, en donnant la priorité "
        "aux plus fragiles, et en suivre l'issue : quelques semaines après, nous vous demandons si le "
        "premier rendez-vous a eu lieu et si le médecin vous a déclaré ; en fin d'année, votre avis.",
        legal_basis="Votre consentement (RGPD, articles 6.1.a et 9.2.a), recueilli par le questionnaire "
        "ou attesté par le professionnel qui remplit la demande avec vous.",
        data="Nom, prénom, date de naissance, téléphone, e-mail, adresse et commune, critères de "
        "priorité (ALD, 70 ans et plus, CSS ou AME), besoin de visites à domicile, langues, "
        "commentaire libre ; l'historique de la demande et les messages envoyés.",
        recipients="La coordination de la CPTS ; le médecin qui accepte de vous suivre. Les messages "
        "passent par les prestataires d'e-mail et de SMS de la CPTS.",
    ),
    Processing(
        purpose="Prendre un rendez-vous de soins non programmés, par la coordination de la CPTS ou par "
        "la régulation du Service d'accès aux soins (SAS).",
        legal_basis="La prise en charge sanitaire (RGPD, articles 6.1.e et 9.2.h ; code de la santé "
        "publique, article L. 6327-1 pour le SAS).",
        data="Nom, prénom, téléphone, e-mail, motif de la consultation, créneau réservé ; tranche "
        "d'âge et présence d'un médecin traitant, pour le bilan d'activité.",
        recipients="Le professionnel ou le centre qui vous reçoit, la coordination de la CPTS, et la "
        "plateforme nationale du SAS pour les rendez-vous qu'elle a pris.",
    ),
    Processing(
        purpose="Rendre compte de l'activité de la CPTS (indicateurs de l'accord conventionnel "
        "interprofessionnel, ACI).",
        legal_basis="Mission d'intérêt public de la CPTS (RGPD, article 6.1.e).",
        data="Des faits anonymes seulement : commune, tranche d'âge, critères de priorité, origine "
        "de la demande, dates et issue (premier rendez-vous, déclaration du médecin traitant) ; les "
        "réponses au questionnaire de satisfaction, gardées sans lien avec la demande.",
        recipients="La CPTS et l'Assurance Maladie, sous forme de chiffres agrégés.",
    ),
    Processing(
        purpose="Sécurité et traçabilité : savoir qui a consulté ou modifié un dossier.",
        legal_basis="Obligation de sécurité des données de santé (RGPD, article 32 ; code de la santé "
        "publique, article L. 1111-8).",
        data="Journal d'audit : compte, rôle, action, numéro du dossier, date, adresse IP ; jamais le "
        "contenu du dossier.",
        recipients="La coordination de la CPTS et l'administrateur du service.",
    ),
]


def retention_periods(settings: Settings) -> list[Retention]:
    """The periods the retention run applies (app/privacy/retention.py), as people read them."""
    return [
        Retention(
            "Demande de médecin traitant aboutie ou close",
            f"{months_in_words(settings.retention_closed_request_months)} après sa clôture ; "
            "seuls des faits anonymes sont gardés pour les indicateurs",
        ),
        Retention(
            "Demande hors territoire, retirée ou restée sans réponse",
            f"{months_in_words(settings.retention_abandoned_request_months)} après son dernier événement",
        ),
        Retention(
            "Rendez-vous de soins non programmés",
            f"{months_in_words(settings.retention_snp_booking_months)} après le rendez-vous",
        ),
        Retention(
            "Destinataire et contenu des e-mails et SMS envoyés",
            f"{_days(settings.retention_outbox_days)} après leur envoi (ou leur échec définitif)",
        ),
        Retention(
            "Journal d'audit (sans données personnelles de santé)", months_in_words(settings.retention_audit_months)
        ),
        Retention(
            "Comptes des professionnels",
            f"désactivés après {months_in_words(settings.retention_account_inactive_months)} sans connexion, "
            f"effacés {months_in_words(settings.retention_account_erase_months)} plus tard",
        ),
    ]


def privacy_notice(
    settings: Settings,
    territory_name: str | None = None,
    territory_email: str | None = None,
    territory_phone: str | None = None,
) -> PrivacyNotice:
    """The notice for a CPTS (its name and contact details), or for the deployment as a whole."""
    if settings.privacy_controller_name:
        controller = Controller(
            name=settings.privacy_controller_name,
            address=settings.privacy_controller_address,
            email=territory_email,
            phone=territory_phone,
        )
    else:
        controller = Controller(
            name=territory_name or "La CPTS de votre territoire",
            address=settings.privacy_controller_address,
            email=territory_email,
            phone=territory_phone,
        )
    rights_contact = settings.privacy_dpo_contact or territory_email or "la coordination de votre CPTS"
    return PrivacyNotice(
        controller=controller,
        dpo_contact=settings.privacy_dpo_contact,
        host=settings.privacy_host,
        processings=PROCESSINGS,
        retention=retention_periods(settings),
        consent=current_consent(settings, territory_name),
        rights_contact=rights_contact,
    )

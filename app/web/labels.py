"""The glossary: the French words the pages show for the codes the service stores (statuses,
roles, actions, kinds), and the French way of writing numbers and counts. One place, so a
status is called the same on the queue, a request, the indicators and the audit trail."""

import re

STATUS_LABELS = {
    "received": "Reçue",
    "proposed": "Liste envoyée",
    "matched": "Médecin trouvé",
    "closed": "Close",
    "out_of_territory": "Hors territoire",
}
CLOSE_REASONS = {
    "found_alone": "A trouvé un médecin seul",
    "unreachable": "Injoignable",
    "withdrew": "A renoncé",
    "moved_out": "A déménagé",
    "duplicate": "Doublon d'une autre demande",
    "other": "Autre",
}
GROUP_BADGES = {"ald": "ALD", "age_70": "70+", "css": "CSS"}
ROLE_LABELS = {
    "admin": "administrateur",
    "coordinator": "coordination",
    "professional": "professionnel",
    "doctor": "médecin",
    "regulator": "régulateur SAS",
    "secretariat": "secrétariat",
    "cpam": "CPAM (Assurance Maladie)",
    "link": "lien personnel",
}
SUBMITTED_BY = {
    "patient": "le patient",
    "relative": "un proche",
    "professional": "un professionnel",
    "cpam": "l'Assurance Maladie",
    "coordinator": "la coordination",
}
NO_DOCTOR_REASONS = {
    "doctor_left": "son médecin est parti",
    "moved_in": "vient d'emménager",
    "never_had": "n'en a jamais eu",
    "other": "autre raison",
}
CHANNELS = {"sms": "un SMS", "email": "un e-mail", "phone": "un appel"}
MESSAGE_KINDS = {
    "doctor_list": "Liste de médecins",
    "outcome": "Issue de la demande",
    "weekly_digest": "Point de la semaine",
}
MESSAGE_STATES = {"pending": "en attente", "sending": "en cours d'envoi", "sent": "envoyé", "failed": "échec"}
PRECISIONS = {
    "housenumber": "l'adresse exacte",
    "street": "la rue",
    "locality": "le lieu-dit",
    "municipality": "le centre de la commune",
}
SOURCE_KINDS = {
    "pharmacy": "Pharmacie",
    "surgery": "Cabinet médical",
    "town_hall": "Mairie",
    "cpam": "CPAM",
    "other": "Autre",
}
OBJECT_TYPES = {
    "patient_request": "Demande",
    "doctor": "Médecin",
    "user": "Compte",
    "source": "Source",
    "territory": "CPTS",
    "slot": "Créneau",
    "slot_pattern": "Créneaux récurrents",
    "snp_booking": "Réservation",
    "snp_centre": "Centre de soins non programmés",
    "person": "Personne (droits ; numéro : fiches trouvées)",
    "outbox_message": "Message",
    "directory_import": "Import de l'Annuaire Santé",
}
# The audit trail's actions (app.audit.service.record callers).
ACTION_LABELS = {
    "read": "lecture",
    "create": "création",
    "update": "modification",
    "delete": "suppression",
    "cancel": "annulation",
    "fulfilled": "patient venu",
    "noshow": "patient absent",
    "request.create": "dépôt de la demande",
    "request.resubmit": "nouveau dépôt du même patient",
    "request.proposed": "liste envoyée",
    "request.matched": "médecin trouvé",
    "request.closed": "clôture",
    "request.note": "note",
    "request.send_list": "envoi de la liste",
    "request.merge": "fusion de doublons",
    "request.not_duplicate": "pas un doublon",
    "request.export": "export",
    "directory.import": "import de l'Annuaire Santé (RPPS)",
    "doctor.create": "inscription du médecin",
    "doctor.update": "modification du médecin",
    "doctor.confirm": "confirmation des disponibilités",
    "doctor.remind": "rappel des disponibilités",
    "doctor.take_place": "place attribuée",
    "doctor.deactivate": "désactivation",
    "doctor.reactivate": "réactivation",
    "user.create": "création du compte",
    "user.password": "mot de passe choisi",
    "user.psc_link": "compte relié à Pro Santé Connect",
    "user.deactivate": "désactivation du compte",
    "user.activate": "réactivation du compte",
    "user.invite": "invitation envoyée",
    "user.update": "modification du compte",
    "user.password_invitation": "mot de passe choisi depuis l'invitation",
    "user.password_reset": "mot de passe changé depuis « Mot de passe oublié »",
    "user.password_reset_request": "lien « Mot de passe oublié » envoyé",
    "user.password_change": "mot de passe changé",
    "user.second_factor_totp": "second facteur donné (application)",
    "user.second_factor_recovery": "second facteur donné (code de secours)",
    "user.second_factor_enrolment": "second facteur activé",
    "user.second_factor_reset": "second facteur retiré (téléphone perdu)",
    "session.revoke": "session fermée",
    "token.revoke": "jeton d'API révoqué",
    "regulator.create": "compte de régulateur créé par le SAS",
    "regulator.update": "compte de régulateur mis à jour par le SAS",
    "source.create": "création de la source",
    "source.update": "modification de la source",
    "source.retire": "retrait de la source (fin de campagne)",
    "request.withdraw": "demande retirée par le patient",
    "request.confirm_first_visit": "premier rendez-vous confirmé par le patient",
    "request.confirm_declared": "déclaration de médecin traitant confirmée par le patient",
    "privacy.search": "recherche d'une personne",
    "privacy.export": "copie remise à la personne",
    "privacy.rectify": "rectification",
    "privacy.erase": "effacement à la demande de la personne",
}


def label(code: str | None, table: dict[str, str]) -> str:
    """The French label of a code; an unknown code is shown as it is rather than hidden."""
    if code is None:
        return ""
    return table.get(code, code)


def french_number(value: float | int | None, decimals: int = 1) -> str:
    """3.8 → "3,8"; 12345.6 → "12 345,6" (a narrow no-break space between thousands)."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}" if isinstance(value, float) or decimals else f"{value:,}"
    return text.replace(",", "\u202f").replace(".", ",")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """French agreement: 0 and 1 take the singular ("0 jour", "1 jour", "2 jours")."""
    word = singular if abs(count) < 2 else (plural_form or singular + "s")
    return f"{count} {word}"


_ELIDING = re.compile(r"^[aeiouyhàâäéèêëîïôöùûüœæ]", re.IGNORECASE)


def of_name(name: str) -> str:
    """ "de" before a name, elided before a vowel or a mute h: "de Martin", "d'Odette"."""
    return f"d'{name}" if _ELIDING.match(name.strip()) else f"de {name}"


def call_form_context() -> dict:
    """What the phone line's compact form (espace/_call_form.html) needs."""
    from app.calls.models import CALLERS, OUTCOMES, REASONS

    return {"call_callers": CALLERS, "call_reasons": REASONS, "call_outcomes": OUTCOMES}

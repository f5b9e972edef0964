"""The professions of the practitioners a CPTS registers: the national "code profession" of the
RPPS (ANS code list TRE_G15-ProfessionSante). Doctors (10) take patients as médecin traitant and
are served to the SAS; the others publish unscheduled-care slots for the CPTS only."""

DOCTOR = "10"

# French labels, as the RPPS names them.
PROFESSIONS: dict[str, str] = {
    DOCTOR: "Médecin",
    "21": "Pharmacien",
    "40": "Chirurgien-dentiste",
    "50": "Sage-femme",
    "60": "Infirmier",
    "70": "Masseur-kinésithérapeute",
}


def is_doctor(profession: str) -> bool:
    return profession == DOCTOR


def label(profession: str) -> str:
    return PROFESSIONS.get(profession, profession)


def display_name(profession: str, given_name: str, family_name: str) -> str:
    """How a practitioner is named to a caller: "Dr" for a doctor, the bare name otherwise."""
    return f"Dr {given_name} {family_name}" if is_doctor(profession) else f"{given_name} {family_name}"


UNKNOWN_PROFESSION = "Profession inconnue : code profession RPPS attendu (10 médecin, 60 infirmier…)."
SPECIALTY_OF_DOCTORS = "Une spécialité médicale (TRE_R38) ne s'applique qu'à un médecin (profession 10)."


def profession_code(value: str) -> str:
    code = value.strip()
    if code not in PROFESSIONS:
        raise ValueError(UNKNOWN_PROFESSION)
    return code


def stored_specialty(profession: str, specialty: str | None, default: str) -> str:
    """The specialty a practitioner of this profession keeps: a doctor's (the default when none
    is given), empty for any other profession, which refuses one (ValueError, in French)."""
    if is_doctor(profession):
        return specialty or default
    if specialty:
        raise ValueError(SPECIALTY_OF_DOCTORS)
    return ""

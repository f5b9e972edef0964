"""Writing lines in the extraction's own format (/work/shared/reference/annuaire-sante.md):
the demo's generated directory and the benchmark's million lines use it; the reader never does."""

from collections.abc import Mapping

# The header, in order, exactly as the ANS writes it (one line, ending with "|").
COLUMNS = (
    "Type d'identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Code civilité d'exercice",
    "Libellé civilité d'exercice",
    "Code civilité",
    "Libellé civilité",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Code profession",
    "Libellé profession",
    "Code catégorie professionnelle",
    "Libellé catégorie professionnelle",
    "Code type savoir-faire",
    "Libellé type savoir-faire",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Code mode exercice",
    "Libellé mode exercice",
    "Numéro SIRET site",
    "Numéro SIREN site",
    "Numéro FINESS site",
    "Numéro FINESS établissement juridique",
    "Identifiant technique de la structure",
    "Raison sociale site",
    "Enseigne commerciale site",
    "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)",
    "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)",
    "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)",
    "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)",
    "Bureau cedex (coord. structure)",
    "Code postal (coord. structure)",
    "Code commune (coord. structure)",
    "Libellé commune (coord. structure)",
    "Code pays (coord. structure)",
    "Libellé pays (coord. structure)",
    "Téléphone (coord. structure)",
    "Téléphone 2 (coord. structure)",
    "Télécopie (coord. structure)",
    "Adresse e-mail (coord. structure)",
    "Code Département (structure)",
    "Libellé Département (structure)",
    "Ancien identifiant de la structure",
    "Autorité d'enregistrement",
    "Code secteur d'activité",
    "Libellé secteur d'activité",
    "Code section tableau pharmaciens",
    "Libellé section tableau pharmaciens",
)
HEADER = "|".join(COLUMNS) + "|"

# A GP's practice, as the example line of the reference: what `line` fills in by default.
GP = {
    "Type d'identifiant PP": "8",
    "Code civilité d'exercice": "DR",
    "Libellé civilité d'exercice": "Docteur",
    "Code profession": "10",
    "Libellé profession": "Médecin",
    "Code catégorie professionnelle": "C",
    "Libellé catégorie professionnelle": "Civil",
    "Code type savoir-faire": "S",
    "Libellé type savoir-faire": "Spécialité ordinale",
    "Code savoir-faire": "SM53",
    "Libellé savoir-faire": "Spécialiste en Médecine Générale",
    "Code mode exercice": "L",
    "Libellé mode exercice": "Libéral",
    "Code type de voie (coord. structure)": "R",
    "Libellé type de voie (coord. structure)": "Rue",
    "Autorité d'enregistrement": "CNOM/CNOM/CNOM",
    "Code secteur d'activité": "SA07",
    "Libellé secteur d'activité": "Cabinet individuel",
}


def line(values: Mapping[str, str]) -> str:
    """One line: GP defaults, then `values` by column name; the national identifier follows the RPPS."""
    merged = {**GP, **values}
    rpps = merged.get("Identifiant PP", "")
    kind = merged.get("Type d'identifiant PP", "")
    merged.setdefault("Identification nationale PP", kind + rpps if rpps else "")
    return "|".join(merged.get(column, "").replace("|", " ") for column in COLUMNS) + "|"

"""The demo's national directory: a generated extraction in the real format, imported as a real
one is, so that the territory's pages have GPs to show. Every demo volunteer doctor is in it
(same RPPS, its practice), with ~30 GPs of the Grand Arras who do not volunteer (a few with an
e-mail, two with a second practice, one whose commune code is empty), and a few lines the
import leaves aside (a nurse, a GP of Lens). The same every run: a second run changes nothing."""

import random
import re
import tempfile

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.principal import operator
from app.demo import GRAND_ARRAS_COMMUNES
from app.demo_people import FAMILY_NAMES, GIVEN_NAMES, STREETS, demo_rpps
from app.directory.extraction import HEADER, line
from app.directory.schemas import DirectoryImportReport
from app.directory.service import import_directory
from app.doctors.models import Doctor
from app.geocoding.service import GeocodingService
from app.territories.communes import Commune, normalize_name

NON_VOLUNTEERS = 30
FIRST_NUMBER = 600  # demo_rpps(600…): none of the volunteers' (1…40)
_NUMBER = re.compile(r"^\s*(\d+)\s*(.*)$")


def _street(address: str) -> dict[str, str]:
    found = _NUMBER.match(address)
    number, street = (found.group(1), found.group(2)) if found else ("", address)
    return {
        "Numéro Voie (coord. structure)": number,
        "Code type de voie (coord. structure)": "",
        "Libellé type de voie (coord. structure)": "",
        "Libellé Voie (coord. structure)": street.upper(),
    }


def _where(commune: Commune, postcode: str, blank_code: bool = False) -> dict[str, str]:
    return {
        "Code postal (coord. structure)": postcode,
        "Code commune (coord. structure)": "" if blank_code else commune.insee,
        "Libellé commune (coord. structure)": "" if blank_code else commune.name,
        "Bureau cedex (coord. structure)": f"{postcode} {commune.name.upper()}" if blank_code else "",
        "Code Département (structure)": commune.department,
    }


def demo_extraction(session: Session, geocoding: GeocodingService) -> list[str]:
    """The lines of the demo's extraction, header first."""
    communes = geocoding.communes
    rng = random.Random(1717)
    lines = [HEADER]
    for doctor in session.scalars(select(Doctor).order_by(Doctor.rpps)):  # the demo's own, every CPTS
        for location in doctor.locations:
            commune = communes.get(location.insee_code)
            if commune is None:
                continue
            values = {
                "Identifiant PP": doctor.rpps,
                "Nom d'exercice": doctor.family_name.upper(),
                "Prénom d'exercice": doctor.given_name.upper(),
                "Téléphone (coord. structure)": "0" + (location.phone or doctor.phone or "")[-9:]
                if (location.phone or doctor.phone)
                else "",
            }
            lines.append(line(values | _street(location.address) | _where(commune, location.postcode)))
    arras = [c for c in (communes.get(code) for code in GRAND_ARRAS_COMMUNES) if c is not None and c.postcodes]
    for i in range(NON_VOLUNTEERS):
        commune = arras[(i * 5) % len(arras)]
        family, given = FAMILY_NAMES[(i * 7 + 3) % len(FAMILY_NAMES)], GIVEN_NAMES[(i * 11 + 5) % len(GIVEN_NAMES)]
        values = {
            "Identifiant PP": demo_rpps(FIRST_NUMBER + i),
            "Nom d'exercice": family.upper(),
            "Prénom d'exercice": given.upper(),
            "Téléphone (coord. structure)": f"03{rng.randrange(10**7, 10**8)}",
        }
        if i % 6 == 0:
            slug = f"{normalize_name(given)}.{normalize_name(family)}".replace(" ", "-")
            values["Adresse e-mail (coord. structure)"] = f"{slug}@cabinet-demo.example.fr"
        if i % 9 == 4:
            values |= {
                "Code mode exercice": "S",
                "Libellé mode exercice": "Salarié",
                "Raison sociale site": "CENTRE DE SANTE",
            }
        street = f"{rng.randrange(1, 90)} {rng.choice(STREETS)}"
        lines.append(line(values | _street(street) | _where(commune, commune.postcodes[0], blank_code=i == 7)))
        if i in (2, 13):  # a second practice, in another commune of the CPTS
            other = arras[(i * 5 + 3) % len(arras)]
            lines.append(
                line(
                    values
                    | _street(f"{rng.randrange(1, 90)} {rng.choice(STREETS)}")
                    | _where(other, other.postcodes[0])
                )
            )
    arras_centre, lens = communes.get("62041"), communes.get("62498")
    if arras_centre is not None:  # a nurse of Arras: not a GP
        nurse = {
            "Identifiant PP": demo_rpps(FIRST_NUMBER + 90),
            "Nom d'exercice": "INFIRMIERE",
            "Prénom d'exercice": "DEMO",
        }
        nurse |= {
            "Code profession": "60",
            "Libellé profession": "Infirmier",
            "Code savoir-faire": "",
            "Libellé savoir-faire": "",
        }
        lines.append(line(nurse | _street("2 rue Ernestale") | _where(arras_centre, "62000")))
    if lens is not None:  # a GP of Lens: outside every demo CPTS
        elsewhere = {
            "Identifiant PP": demo_rpps(FIRST_NUMBER + 91),
            "Nom d'exercice": "AILLEURS",
            "Prénom d'exercice": "DEMO",
        }
        lines.append(line(elsewhere | _street("8 rue de la Gare") | _where(lens, "62300")))
    return lines


def load_demo_directory(sessions: sessionmaker[Session], geocoding: GeocodingService) -> list[DirectoryImportReport]:
    """Writes the demo's extraction to a temporary file and imports it into every demo CPTS."""
    with sessions() as session:
        lines = demo_extraction(session, geocoding)
    with tempfile.TemporaryFile() as raw:
        raw.write(("\n".join(lines) + "\n").encode("utf-8"))
        raw.seek(0)
        return import_directory(sessions, geocoding, operator(), raw, "PS_LibreAcces_Personne_activite_demo.txt")

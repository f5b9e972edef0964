"""The national directory's import on a generated extraction: time, and peak memory at 100,000
and 1,000,000 lines (it must stay flat: the file is read as a stream).

The file is written in the real format (app/directory/extraction.py: the ANS header, one line
per practice situation, trailing "|"): professions as in the national file (a quarter
physicians), communes drawn from the whole of France, and a few hundred GP lines in the Grand
Arras (some doctors with two practices, some with the commune code empty). Each size is
imported in its own process on a fresh SQLite database with the demo territories, so that its
peak RSS (getrusage) is its own; the baseline is the RSS once the app and the communes are loaded.

Run: python bench/bench_directory_import.py [--sizes 100000 1000000] [--keep DIR]"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stdnum import luhn

from app.demo import GRAND_ARRAS_COMMUNES
from app.directory.extraction import HEADER, line
from app.territories.communes import get_commune_index

# Code profession → label, weighted roughly as in the national file.
PROFESSIONS = [
    ("10", "Médecin", 25),
    ("60", "Infirmier", 35),
    ("21", "Pharmacien", 10),
    ("40", "Chirurgien-Dentiste", 7),
    ("70", "Masseur-Kinésithérapeute", 13),
    ("50", "Sage-Femme", 4),
    ("91", "Orthophoniste", 6),
]
KNOW_HOW = [
    ("SM53", "Spécialiste en Médecine Générale", 55),
    ("SM04", "Cardiologie et Maladies vasculaires", 5),
    ("SM42", "Psychiatrie", 6),
    ("SM40", "Pédiatrie", 4),
    ("SM15", "Dermatologie et Vénéréologie", 3),
    ("SM02", "Anesthésie-réanimation", 7),
    ("SM54", "Médecine Générale", 5),
    ("SM38", "Ophtalmologie", 4),
]
STREETS = ["PASTEUR", "DE LA REPUBLIQUE", "VICTOR HUGO", "JEAN JAURES", "DE LA GARE", "DES ECOLES", "DU MOULIN"]
FAMILY = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY", "MOREAU"]
GIVEN = ["CAMILLE", "LOUIS", "EMMA", "HUGO", "JADE", "LEO", "CHLOE", "GABRIEL", "LINA", "JULES"]


def _rpps(n: int) -> str:
    body = f"1{n:09d}"
    return body + luhn.calc_check_digit(body)


def _pick(rng: random.Random, weighted: list[tuple[str, str, int]]) -> tuple[str, str]:
    code, label, _ = rng.choices(weighted, weights=[w for *_, w in weighted])[0]
    return code, label


def _practice(rng: random.Random, commune, blank_code: bool = False) -> dict[str, str]:
    postcode = commune.postcodes[0] if commune.postcodes else ""
    return {
        "Numéro Voie (coord. structure)": str(rng.randrange(1, 120)),
        "Code type de voie (coord. structure)": "R",
        "Libellé type de voie (coord. structure)": "Rue",
        "Libellé Voie (coord. structure)": rng.choice(STREETS),
        "Code postal (coord. structure)": postcode,
        "Code commune (coord. structure)": "" if blank_code else commune.insee,
        "Libellé commune (coord. structure)": "" if blank_code else commune.name,
        "Bureau cedex (coord. structure)": f"{postcode} {commune.name.upper()}" if blank_code else "",
        "Code Département (structure)": commune.department,
        "Téléphone (coord. structure)": f"03{rng.randrange(10**7, 10**8)}",
    }


def write_extraction(path: Path, lines: int, in_territory: int, seed: int = 17) -> int:
    """Writes `lines` lines after the header, `in_territory` of them GP practices in the Grand
    Arras; returns how many distinct GPs practise there (one in ten has two practices)."""
    rng = random.Random(seed)
    communes = get_commune_index()
    everywhere = [c for c in communes if c.postcodes and c.insee not in set(GRAND_ARRAS_COMMUNES)]
    arras = [c for c in (communes.get(code) for code in GRAND_ARRAS_COMMUNES) if c is not None]
    local_at = set(rng.sample(range(lines), in_territory))
    doctors = 0
    number = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(HEADER + "\n")
        written = 0
        while written < lines:
            number += 1
            name = {"Nom d'exercice": rng.choice(FAMILY), "Prénom d'exercice": rng.choice(GIVEN)}
            if written in local_at:
                doctors += 1
                values = {"Identifiant PP": _rpps(number), **name}
                out.write(line(values | _practice(rng, rng.choice(arras), blank_code=rng.random() < 0.05)) + "\n")
                written += 1
                if rng.random() < 0.1 and written < lines and written not in local_at:  # a second practice
                    out.write(line(values | _practice(rng, rng.choice(arras))) + "\n")
                    written += 1
                continue
            profession, label = _pick(rng, PROFESSIONS)
            values = {
                "Identifiant PP": _rpps(number),
                "Code profession": profession,
                "Libellé profession": label,
                **name,
            }
            if profession == "10":
                code, know_how = _pick(rng, KNOW_HOW)
                values |= {"Code savoir-faire": code, "Libellé savoir-faire": know_how}
            else:
                values |= {"Code savoir-faire": "", "Libellé savoir-faire": "", "Code type savoir-faire": ""}
            out.write(line(values | _practice(rng, rng.choice(everywhere))) + "\n")
            written += 1
    return doctors


def _child(path: Path, database: str) -> None:
    """One import in this process: prints JSON with the time and the RSS."""
    os.environ["ORIENTATION_DATABASE_URL"] = database
    from app.accounts.principal import operator
    from app.core import migrations
    from app.core.database import get_sessionmaker
    from app.core.settings import get_settings
    from app.demo import load_demo
    from app.directory.service import import_directory
    from app.geocoding.service import build_geocoding_service

    migrations.upgrade()
    sessions = get_sessionmaker()
    with sessions() as session:
        load_demo(session, get_commune_index())
    geocoding = build_geocoding_service(get_settings(), sessions)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with path.open("rb") as raw:
        report = import_directory(sessions, geocoding, operator(), raw, path.name, territory="grand-arras")[0]
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "lines": report.lines_read,
                "added": report.added,
                "practices": report.practices,
                "seconds": round(seconds, 2),
                "baseline_rss_mib": round(baseline / 1024, 1),
                "peak_rss_mib": round(peak / 1024, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--in-territory", type=int, default=400)
    parser.add_argument("--child", nargs=2, metavar=("FILE", "DATABASE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), args.child[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"PS_LibreAcces_Personne_activite_{size}.txt"
            started = time.perf_counter()
            doctors = write_extraction(path, size, args.in_territory)
            written = time.perf_counter() - started
            mib = path.stat().st_size / 1024 / 1024
            database = f"sqlite:///{tmp}/bench-{size}.sqlite3"
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(path), database],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            assert result["added"] == doctors, (result, doctors)
            print(
                f"{size:>9,} lines ({mib:,.0f} MiB, written in {written:.1f} s): imported in {result['seconds']} s "
                f"({size / result['seconds']:,.0f} lines/s), {result['added']} GPs / {result['practices']} practices "
                f"kept; RSS {result['baseline_rss_mib']} MiB before the import, peak {result['peak_rss_mib']} MiB"
            )
            path.unlink()


if __name__ == "__main__":
    main()

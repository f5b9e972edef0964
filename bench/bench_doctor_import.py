"""CSV import of 5,000 doctors with the BAN configured (a stand-in BAN on loopback that
places every address near its commune's centre).

1. cold: every address is sent to the BAN once and cached;
2. warm: the doctors are deleted, the cache kept, and the same file imported again
   (the issue's target: under 10 s);
3. unchanged: the same file once more (upsert by RPPS: nothing to write).

Run: python bench/bench_doctor_import.py [--rows 5000]   (ORIENTATION_DATABASE_URL for PostgreSQL)"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete
from stdnum import luhn

from app.accounts.principal import operator
from app.audit.models import AuditEvent
from app.core import migrations
from app.core.database import get_sessionmaker
from app.core.settings import Settings
from app.demo import load_demo
from app.doctors.importer import import_doctors
from app.doctors.models import Doctor, PracticeLocation
from app.geocoding.service import build_geocoding_service
from app.territories.communes import get_commune_index
from tests.fakes.ban import FakeBan

STREETS = [
    "rue de la République",
    "rue Pasteur",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "place de la Mairie",
    "rue des Écoles",
    "chemin du Moulin",
    "rue de Cambrai",
]
HEADER = "RPPS;Civilité;Nom;Prénom;E-mail;Téléphone;Adresse;Code postal;Commune;Accès PMR;Accepte nouveaux patients;Places;Langues"


class CommuneCentreBan(FakeBan):
    """Answers every query with a house-number match near the centre of the named commune."""

    def answer(self, params: dict[str, str]) -> dict:
        communes = get_commune_index()
        query, postcode = params.get("q", ""), params.get("postcode", "")
        for commune in communes.by_postcode(postcode):
            if commune.name.lower() in query.lower():
                rng = random.Random(query)
                feature = {
                    "type": "Feature",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [
                            commune.longitude + rng.uniform(-0.005, 0.005),
                            commune.latitude + rng.uniform(-0.005, 0.005),
                        ],
                    },
                    "properties": {
                        "label": query,
                        "score": 0.93,
                        "type": "housenumber",
                        "postcode": postcode,
                        "citycode": commune.insee,
                        "city": commune.name,
                    },
                }
                return {"type": "FeatureCollection", "features": [feature]}
        return {"type": "FeatureCollection", "features": []}


def make_csv(rows: int) -> bytes:
    communes = get_commune_index()
    from app.demo import GRAND_ARRAS_COMMUNES

    rng = random.Random(5000)
    lines = [HEADER]
    for n in range(rows):
        body = f"2{n:09d}"
        commune = communes.get(GRAND_ARRAS_COMMUNES[n % len(GRAND_ARRAS_COMMUNES)])
        lines.append(
            ";".join(
                [
                    body + luhn.calc_check_digit(body),
                    rng.choice(["Dr", "M.", "Mme"]),
                    f"Nom{n}",
                    "Prénom",
                    f"medecin{n}@example.fr",
                    "03 21 00 00 00",
                    f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
                    commune.postcodes[0],
                    commune.name,
                    rng.choice(["oui", "non"]),
                    rng.choice(["oui", "non"]),
                    str(rng.randrange(0, 20)),
                    rng.choice(["fr", "fr, en", "fr, ar"]),
                ]
            )
        )
    return "\n".join(lines).encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    url = os.environ.get("ORIENTATION_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    os.environ["ORIENTATION_DATABASE_URL"] = url
    migrations.upgrade(database_url=url)
    sessions = get_sessionmaker()
    raw = make_csv(args.rows)
    with CommuneCentreBan() as ban, sessions() as session:
        load_demo(session, get_commune_index())
        session.execute(delete(PracticeLocation))
        session.execute(delete(Doctor))
        session.commit()
        geocoding = build_geocoding_service(Settings(database_url=url, ban_url=ban.url), sessions)

        def run(label: str) -> None:
            started = time.perf_counter()
            report = import_doctors(session, geocoding, operator(), "grand-arras", raw)
            session.commit()  # as the request's unit of work does (the importer only flushes)
            elapsed = time.perf_counter() - started
            print(
                f"{label:10s} {elapsed:6.2f} s  created {report.created}, updated {report.updated}, "
                f"unchanged {report.unchanged}, invalid {report.invalid}; BAN requests so far: {len(ban.requests)}"
            )

        print(f"database: {url.split('://')[0]}; {args.rows} rows, {len(raw):,} bytes")
        run("cold")
        session.execute(delete(PracticeLocation))
        session.execute(delete(Doctor))
        if session.get_bind().dialect.name == "sqlite":
            session.execute(delete(AuditEvent))  # PostgreSQL refuses: the trail is append-only
        session.commit()
        run("warm")
        run("unchanged")


if __name__ == "__main__":
    main()

"""Server-side time of the workspace's main pages (target: under 200 ms each).

In-process (Starlette's TestClient, no network), signed in as the Grand Arras coordinator
through the sign-in page, on generated data: the demo territories, DOCTORS volunteer
doctors and REQUESTS requests in the Grand Arras (a tenth of them open), a few thousand
audit events. Each page is fetched RUNS times after one warm-up; p50 / p95 / max in ms.

Run: python bench/bench_pages.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/bench_pages]
     [--doctors 300] [--requests 20000] [--runs 30]
Without --url, a fresh SQLite file under a temporary directory. A PostgreSQL database given
with --url is emptied first."""

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from stdnum import luhn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from app.accounts.models import Role
from app.accounts.schemas import UserCreate
from app.accounts.service import create_user
from app.core import migrations
from app.core.database import build_engine, utcnow
from app.core.settings import Settings
from app.demo import load_demo
from app.doctors.models import Doctor, PracticeLocation
from app.main import create_app
from app.requests.models import PatientRequest, RequestEvent
from app.territories.communes import get_commune_index
from app.territories.models import Territory

PASSWORD = "bench-pages-password"


def prepare(url: str) -> None:
    if url.startswith("postgresql"):
        engine = build_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    migrations.upgrade("head", database_url=url)


def generate(app, doctors: int, requests: int) -> None:
    rng = random.Random(2026)
    communes = get_commune_index()
    sessions = app.state.write_sessions
    with sessions() as session:
        load_demo(session, communes)
        territory = session.scalars(select(Territory).where(Territory.slug == "grand-arras")).one()
        places = [communes.get(code) for code in territory.insee_codes]
        now = utcnow()
        doctor_rows, practice_rows = [], []
        for n in range(1, doctors + 1):
            body = f"2{n:09d}"
            commune = rng.choice(places)
            doctor_rows.append(
                {
                    "id": n,
                    "territory_id": territory.id,
                    "rpps": body + luhn.calc_check_digit(body),
                    "civility": "DR",
                    "family_name": f"Médecin{n}",
                    "given_name": "Bench",
                    "specialty": "SM54",
                    "email": f"m{n}@example.fr",
                    "active": True,
                    "accepting_new_patients": rng.random() < 0.7,
                    "capacity_remaining": rng.randrange(0, 30),
                    "priority_only": rng.random() < 0.1,
                    "home_visits": rng.random() < 0.3,
                    "languages": ["fr"],
                    "confirmed_at": now - timedelta(days=rng.randrange(0, 300)),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            practice_rows.append(
                {
                    "doctor_id": n,
                    "address": f"{n} rue Pasteur",
                    "postcode": commune.postcodes[0],
                    "insee_code": commune.insee,
                    "city": commune.name,
                    "latitude": commune.latitude + rng.uniform(-0.01, 0.01),
                    "longitude": commune.longitude + rng.uniform(-0.01, 0.01),
                    "precision": "street",
                }
            )
        session.execute(insert(Doctor), doctor_rows)
        session.execute(insert(PracticeLocation), practice_rows)
        request_rows = []
        for n in range(1, requests + 1):
            commune = rng.choice(places)
            status = (
                "received"
                if n % 10 == 0
                else rng.choice(["matched", "closed", "proposed"])
                if n % 10 == 1
                else rng.choice(["matched", "closed"])
            )
            created = now - timedelta(days=rng.randrange(0, 365), minutes=rng.randrange(0, 1440))
            request_rows.append(
                {
                    "id": n,
                    "territory_id": territory.id,
                    "status": status,
                    "close_reason": "found_alone" if status == "closed" else None,
                    "family_name": f"Patient{n}",
                    "given_name": rng.choice(["Anne", "Marc", "Lina", "Paul"]),
                    "birth_date": date(rng.randrange(1930, 2005), rng.randrange(1, 13), rng.randrange(1, 28)),
                    "phone": "+33612345678",
                    "postcode": commune.postcodes[0],
                    "insee_code": commune.insee,
                    "commune_name": commune.name,
                    "latitude": commune.latitude,
                    "longitude": commune.longitude,
                    "precision": "municipality",
                    "ald": rng.random() < 0.3,
                    "css_or_ame": rng.choice(["yes", "no", "unknown"]),
                    "aged_70_or_more": rng.random() < 0.3,
                    "needs_home_visits": False,
                    "no_doctor_reason": "moved_in",
                    "preferred_channel": "sms",
                    "languages": [],
                    "consent_at": created,
                    "submitted_by": "patient",
                    "identity_key": hashlib.sha256(f"k{n}".encode()).hexdigest(),
                    "follow_up_token_hash": hashlib.sha256(f"t{n}".encode()).hexdigest(),
                    "created_at": created,
                    "updated_at": created,
                }
            )
        for start in range(0, len(request_rows), 5000):
            session.execute(insert(PatientRequest), request_rows[start : start + 5000])
        session.execute(
            insert(RequestEvent),
            [
                {
                    "request_id": r["id"],
                    "actor": "patient",
                    "kind": "status",
                    "to_status": "received",
                    "at": r["created_at"],
                }
                for r in request_rows
            ],
        )
        # Unscheduled care: 20 slots per doctor over the next 14 days, one in ten booked.
        from app.snp.models import Booking, Slot

        today = datetime.combine(date.today(), datetime.min.time(), tzinfo=UTC)
        slot_rows, booking_rows = [], []
        for n in range(1, doctors + 1):
            for k in range(20):
                start = today + timedelta(days=1 + (k * 7 + n) % 14, hours=8, minutes=20 * ((n + k * 3) % 30))
                slot_id = len(slot_rows) + 1
                booked = (n * 7 + k) % 10 == 0
                slot_rows.append(
                    {
                        "id": slot_id,
                        "territory_id": territory.id,
                        "doctor_id": n,
                        "location_id": n,
                        "start_at": start,
                        "end_at": start + timedelta(minutes=20),
                        "kind": "AMB",
                        "visibility": 12,
                        "sas_visible": True,
                        "appointment_type": "ROUTINE",
                        "status": "booked" if booked else "free",
                        "created_at": now,
                    }
                )
                if booked:
                    booking_rows.append(
                        {
                            "slot_id": slot_id,
                            "territory_id": territory.id,
                            "status": "booked",
                            "family_name": f"Appelant{slot_id}",
                            "given_name": "Anne",
                            "phone": "+33612345678",
                            "reason": "Fièvre",
                            "origin": "cpts",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
        session.execute(insert(Slot), slot_rows)
        session.execute(insert(Booking), booking_rows)
        if session.bind.dialect.name == "postgresql":
            for table in ("doctors", "practice_locations", "patient_requests", "request_events", "snp_slots"):
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
        session.commit()
        create_user(
            session,
            UserCreate(
                email="bench@example.fr",
                display_name="Bench",
                role=Role.COORDINATOR,
                password=PASSWORD,
                cpts=["grand-arras"],
            ),
            None,
        )
        session.commit()  # services only flush: the request's unit of work (here, this script) commits
        if session.bind.dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
            session.commit()


def measure(client: TestClient, path: str, runs: int) -> tuple[float, float, float]:
    assert client.get(path).status_code == 200, path  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, path
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--doctors", type=int, default=300)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench_pages.sqlite3"
    prepare(url)
    app = create_app(Settings(database_url=url, secret_key="bench", map_tile_url=""))
    started = time.perf_counter()
    generate(app, args.doctors, args.requests)
    from app.main import _freeze_startup_objects

    _freeze_startup_objects()  # as `orientation serve` does (app.main.create_production_app)
    print(
        f"{url.split(':')[0]}: {args.doctors} doctors, {args.requests} requests generated in {time.perf_counter() - started:.1f} s"
    )
    with TestClient(app) as client:
        assert (
            client.post("/espace/connexion", data={"email": "bench@example.fr", "password": PASSWORD}).status_code
            == 200
        )
        with app.state.read_sessions() as session:
            open_request = session.scalars(
                select(PatientRequest.id).where(PatientRequest.status == "received").order_by(PatientRequest.id)
            ).first()
        pages = [
            ("queue (open requests, 50 a page)", "/espace/demandes"),
            ("queue, all statuses, page 10", "/espace/demandes?statut=toutes&page=10"),
            ("queue, search by name", "/espace/demandes?statut=toutes&q=patient12"),
            ("request (answers, history, ranked doctors, map)", f"/espace/demandes/{open_request}"),
            ("doctors (50 a page)", "/espace/medecins"),
            ("a doctor's record", "/espace/medecins/1"),
            ("sources", "/espace/sources"),
            ("indicators, one year", f"/espace/indicateurs?du={date.today() - timedelta(days=365)}"),
            ("audit trail (100 a page)", "/espace/journal"),
            (
                "unscheduled care, a day's board",
                f"/espace/soins-non-programmes?jour={date.today() + timedelta(days=3)}",
            ),
            (
                "unscheduled care, a week's board",
                f"/espace/soins-non-programmes?jour={date.today() + timedelta(days=1)}&vue=semaine",
            ),
            (
                "unscheduled care, a caller's slots (48 h)",
                "/espace/soins-non-programmes/recherche?code_postal=62000&commune=Arras",
            ),
        ]
        print("\n| page | p50 ms | p95 ms | max ms |\n| --- | --- | --- | --- |")
        for label, path in pages:
            p50, p95, worst = measure(client, path, args.runs)
            print(f"| {label} | {p50:.1f} | {p95:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    main()

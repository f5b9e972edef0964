"""Médecin traitant at national scale, on PostgreSQL: 800 CPTS, 100,000 volunteer doctors,
1,000,000 requests. Measures, against a real `orientation serve` on loopback:

- suggestions for a request (GET /api/v1/requests/{id}/suggestions): p50/p95/p99 over 2,000
  requests picked at random, one client (target: p99 < 20 ms);
- intake (POST /api/v1/requests) with 2 workers, 16 concurrent clients, each submission on a
  connection of its own (--keep-alive: 16 long-lived connections) (target, issue 18: at least 500
  accepted requests/s), then checks that every 201 is in the database, and prints the CPU the
  workers and PostgreSQL's backends spent per accepted submission (from /proc). The load
  generator (bench/loadgen.py) is asyncio on raw sockets: it shares the two cores with the server;
- the intake's service in process, one submission at a time: CPU and SQL statements per
  submission, figures that the machine's other load disturbs less than a rate.

The geocoder is the offline one (commune given, no street address): what a BAN cache hit
costs, minus one indexed read of the cache.

Run: python bench/bench_requests_scale.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale]
[--reuse] (without --reuse the database is dropped and rebuilt; generation takes a minute or two)."""

import argparse
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from stdnum import luhn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import loadgen

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.accounts.schemas import UserCreate
from app.accounts.service import create_token, create_user
from app.core import migrations
from app.core.database import build_engine, utcnow
from app.doctors.models import Doctor, PracticeLocation
from app.territories.communes import get_commune_index
from app.territories.models import Territory, TerritoryCommune

ORIENTATION = str(Path(sys.executable).parent / "orientation")
CPTS, COMMUNES_EACH, DOCTORS, REQUESTS = 800, 40, 100_000, 1_000_000


def recreate(url: str) -> None:
    parsed = make_url(url)
    admin = f"postgresql://{parsed.username}@{parsed.host}:{parsed.port or 5432}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}"')
        connection.execute(f'CREATE DATABASE "{parsed.database}"')


def generate(url: str) -> None:
    rng = random.Random(2026)
    communes = [
        c
        for c in sorted(get_commune_index()._by_insee.values(), key=lambda c: c.insee)
        if c.latitude is not None and c.postcodes and not c.parent_insee
    ]
    engine = build_engine(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            insert(Territory),
            [
                {
                    "id": k + 1,
                    "slug": f"cpts-{k + 1}",
                    "name": f"CPTS {k + 1}",
                    "finess": f"{k:08d}" + luhn.calc_check_digit(f"{k:08d}"),
                    "phone": "+33321000000",
                    "email": f"cpts{k}@example.fr",
                    "weight_ald": 1,
                    "weight_age_70": 1,
                    "weight_css": 1,
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
                for k in range(CPTS)
            ],
        )
        members = [(k + 1, communes[k * COMMUNES_EACH + j]) for k in range(CPTS) for j in range(COMMUNES_EACH)]
        connection.execute(insert(TerritoryCommune), [{"insee_code": c.insee, "territory_id": t} for t, c in members])
        connection.execute(
            text(
                "CREATE TEMP TABLE bench_communes (territory_id int, idx int, insee text, name text, postcode text, lat float, lon float)"
            )
        )
        connection.execute(
            text("INSERT INTO bench_communes VALUES (:t, :i, :insee, :name, :pc, :lat, :lon)"),
            [
                {
                    "t": t,
                    "i": n % COMMUNES_EACH,
                    "insee": c.insee,
                    "name": c.name,
                    "pc": c.postcodes[0],
                    "lat": c.latitude,
                    "lon": c.longitude,
                }
                for n, (t, c) in enumerate(members)
            ],
        )
        print(f"territories: {time.perf_counter() - started:.0f} s")
        now = utcnow()
        for start in range(0, DOCTORS, 10_000):
            rows, locations = [], []
            for n in range(start, start + 10_000):
                territory, commune = members[(n % CPTS) * COMMUNES_EACH + rng.randrange(COMMUNES_EACH)]
                body = f"3{n:09d}"
                capacity = rng.choice([0, 2, 5, 10, 20])
                rows.append(
                    {
                        "id": n + 1,
                        "territory_id": territory,
                        "rpps": body + luhn.calc_check_digit(body),
                        "civility": "DR",
                        "family_name": f"Nom{n}",
                        "given_name": "Prénom",
                        "specialty": "SM54",
                        "email": f"d{n}@example.fr",
                        "phone": "+33321000000",
                        "active": True,
                        "accepting_new_patients": capacity > 0,
                        "capacity_remaining": capacity,
                        "priority_only": rng.random() < 0.2,
                        "home_visits": rng.random() < 0.3,
                        "home_visit_radius_km": 10,
                        "languages": ["fr"],
                        "max_distance_km": None,
                        "confirmed_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                locations.append(
                    {
                        "doctor_id": n + 1,
                        "address": "1 rue de la Mairie",
                        "postcode": commune.postcodes[0],
                        "insee_code": commune.insee,
                        "city": commune.name,
                        "latitude": commune.latitude + rng.uniform(-0.01, 0.01),
                        "longitude": commune.longitude + rng.uniform(-0.01, 0.01),
                        "precision": "housenumber",
                        "wheelchair_accessible": True,
                    }
                )
            connection.execute(insert(Doctor), rows)
            connection.execute(insert(PracticeLocation), locations)
        print(f"doctors: {time.perf_counter() - started:.0f} s")
        connection.execute(
            text(f"""
            INSERT INTO patient_requests (territory_id, status, family_name, given_name, birth_date, phone, postcode,
                insee_code, commune_name, latitude, longitude, precision, ald, css_or_ame, aged_70_or_more,
                needs_home_visits, no_doctor_reason, preferred_channel, languages, consent_at, submitted_by,
                identity_key, follow_up_token_hash, created_at, updated_at)
            SELECT c.territory_id,
                   (ARRAY['received','proposed','matched','closed','received'])[1 + i % 5],
                   'Nom' || i, 'Prénom', DATE '1940-01-01' + (i % 25000), '+33612345678', c.postcode, c.insee, c.name,
                   c.lat, c.lon, 'municipality', i % 7 = 0, (ARRAY['yes','no','unknown'])[1 + i % 3], i % 4 = 0,
                   i % 11 = 0, 'other', 'sms', '[]', now(), 'patient', md5('id' || i), md5('t' || i),
                   now() - (i % 700) * interval '1 day', now()
            FROM generate_series(1, {REQUESTS}) AS i
            JOIN bench_communes c ON c.territory_id = 1 + i % {CPTS} AND c.idx = (i / {CPTS}) % {COMMUNES_EACH}
        """)
        )
        print(f"requests: {time.perf_counter() - started:.0f} s")
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()


def token_for(url: str) -> str:
    from sqlalchemy.orm import sessionmaker

    from app.core.database import for_writing

    engine = build_engine(url)
    with sessionmaker(bind=for_writing(engine))() as session:
        email = f"admin{int(time.time())}@bench.example.fr"
        user = create_user(
            session,
            UserCreate(email=email, display_name="Bench", role=Role.ADMIN, password="a long bench password"),
            None,
        )
        secret, _ = create_token(session, Principal(user.id, user.email, Role.ADMIN, frozenset(), None, None), "bench")
        session.commit()  # services only flush: the caller's unit of work commits
    engine.dispose()
    return secret


def serve(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "ORIENTATION_DATABASE_URL": url,
        "ORIENTATION_LOG_LEVEL": "WARNING",
        "ORIENTATION_INTAKE_PER_MINUTE": "100000000",
        "ORIENTATION_SECRET_KEY": "bench",
        # The SAS feed is measured without TLS on loopback: /fhir opened on purpose.
        "ORIENTATION_FHIR_CLIENT_AUTH": "none",
    }
    server = subprocess.Popen(
        [ORIENTATION, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return server, base
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def quantiles(values: list[float]) -> str:
    values = sorted(values)
    q = lambda p: values[min(len(values) - 1, int(p * len(values)))] * 1000  # noqa: E731
    return f"p50 {q(0.5):.1f} ms, p95 {q(0.95):.1f} ms, p99 {q(0.99):.1f} ms, max {values[-1] * 1000:.1f} ms"


def bench_suggestions(url: str, token: str, samples: int) -> None:
    server, base = serve(url, 1)
    rng = random.Random(7)
    latencies = []
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            client.get("/api/v1/requests/1/suggestions")
            for _ in range(samples):
                started = time.perf_counter()
                response = client.get(f"/api/v1/requests/{rng.randrange(1, REQUESTS)}/suggestions")
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        print(
            f"suggestions over HTTP, {samples} random requests of 1,000,000 ({response.json()['considered']} doctors "
            f"looked at for the last): {quantiles(latencies)}"
        )
    finally:
        server.terminate()
        server.wait(timeout=20)


def bench_intake(url: str, count: int, keep_alive: bool) -> None:
    server, base = serve(url, 2)
    communes = get_commune_index()
    engine = build_engine(url)
    with engine.connect() as connection:
        served = connection.execute(text("SELECT insee_code FROM territory_communes LIMIT 2000")).scalars().all()
    engine.dispose()
    places = [communes.get(code) for code in served]
    run = time.time_ns()  # new people at every run: none is a duplicate of an earlier one
    port = int(base.rsplit(":", 1)[1])
    submissions = []
    for n in range(count):
        commune = places[n % len(places)]
        body = {
            "family_name": f"Bench{n}",
            "given_name": f"Intake{run}",
            "birth_date": date(1950 + n % 60, 1 + n % 12, 1 + n % 28).isoformat(),
            "phone": "06 12 34 56 78",
            "postcode": commune.postcodes[0],
            "city": commune.name,
            "no_doctor_reason": "other",
            "consent": True,
            "ald": n % 3 == 0,
        }
        submissions.append(loadgen.post_json("127.0.0.1", port, "/api/v1/requests", body, keep_alive=keep_alive))
    workers = _children(server.pid)
    try:
        before = {pid: _cpu_seconds(pid) for pid in workers}
        # Each person submits once, from their own browser: a connection each (keep_alive=False).
        # With a few long-lived connections instead, whichever worker wakes first accepts them
        # all at once, and one worker serves nearly everything while the other idles.
        result = loadgen.run("127.0.0.1", port, submissions, concurrency=16, keep_alive=keep_alive, keep_bodies=True)
        workers_cpu = sum(_cpu_seconds(pid) - before[pid] for pid in workers)
        backends_cpu = _backends_cpu_seconds(url)
    finally:
        server.terminate()
        server.wait(timeout=20)
    created_ids = [json.loads(body)["id"] for status, body in result.bodies if status == 201]
    engine = build_engine(url)
    with engine.connect() as connection:
        present = connection.execute(
            text("SELECT count(*) FROM patient_requests WHERE id = ANY(:ids)"), {"ids": created_ids}
        ).scalar_one()
    engine.dispose()
    accepted = result.statuses.get(201, 0)
    print(
        f"intake, 2 workers, 16 clients, {'keep-alive connections' if keep_alive else 'a connection per submission'}: "
        f"{accepted} accepted in {result.elapsed:.1f} s = {accepted / result.elapsed:.0f} accepted/s; "
        f"latency {quantiles(result.latencies)}; statuses {dict(sorted(result.statuses.items()))}; "
        f"{present} of {len(created_ids)} 201s found in the database"
    )
    print(
        f"CPU per accepted submission: the workers {workers_cpu * 1000 / max(accepted, 1):.2f} ms, PostgreSQL's "
        f"backends {backends_cpu * 1000 / max(accepted, 1):.2f} ms; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )


def _children(pid: int) -> list[int]:
    """The server's worker processes (uvicorn's, spawned by the supervisor)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backends_cpu_seconds(url: str) -> float:
    """The CPU of the PostgreSQL backends serving this database now (the server's pooled
    connections, opened by the run: their whole life is the run's). A local server only."""
    parsed = make_url(url)
    admin = f"postgresql://{parsed.username}@{parsed.host}:{parsed.port or 5432}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        pids = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            (parsed.database,),
        ).fetchall()
    total = 0.0
    for (pid,) in pids:
        with contextlib.suppress(OSError):  # gone meanwhile, or not on this machine
            total += _cpu_seconds(pid)
    return total


def intake_in_process(url: str, count: int) -> None:
    """The intake's service (app.requests.service.submit_request and the commit, as the
    endpoint runs them in its hop to the thread pool), one submission at a time, without HTTP
    nor the load generator: the CPU of this process per submission, less disturbed by the
    machine's other load than a rate, and the SQL statements each one runs, counted at the
    cursor. Twice: everyone with the same phone (as above: each one a possible duplicate of
    an earlier request, noted on it), then each with a phone of its own (a receipt by SMS)."""
    import gc

    from sqlalchemy import event

    from app.core.settings import Settings
    from app.main import create_app
    from app.requests.schemas import RequestCreate
    from app.requests.service import submit_request

    app = create_app(Settings(database_url=url, secret_key="bench", log_level="WARNING"))
    gc.collect()
    gc.freeze()  # as `orientation serve` does
    statements = 0

    @event.listens_for(app.state.engine, "before_cursor_execute")
    def count_statement(*_: object) -> None:
        nonlocal statements
        statements += 1

    communes = get_commune_index()
    with app.state.engine.connect() as connection:
        served = connection.execute(text("SELECT insee_code FROM territory_communes LIMIT 2000")).scalars().all()
    places = [communes.get(code) for code in served]
    run = time.time_ns()
    first = random.Random(run).randrange(90**3 - count - 50)  # phones no earlier run used, most likely
    for phones in ("the same phone", "a phone each"):
        submissions = [
            RequestCreate.model_validate(
                {
                    "family_name": f"InProcess{n}",
                    "given_name": f"Intake{run}",
                    "birth_date": date(1950 + n % 60, 1 + n % 12, 1 + n % 28).isoformat(),
                    "phone": "06 12 34 56 78" if phones == "the same phone" else _phone(first + n),
                    "postcode": places[n % len(places)].postcodes[0],
                    "city": places[n % len(places)].name,
                    "no_doctor_reason": "other",
                    "consent": True,
                    "ald": n % 3 == 0,
                }
            )
            for n in range(count + 50)
        ]
        for n, data in enumerate(submissions):
            if n == 50:  # after a warm-up: compiled statements, prepared plans, the pool
                statements = 0
                cpu, wall = time.process_time(), time.perf_counter()
            with app.state.write_sessions() as session:
                submit_request(session, app.state.geocoding, None, data, "http://bench")
                session.commit()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"intake's service in process, {count} submissions, {phones}: CPU {cpu * 1000 / count:.2f} ms each, "
            f"wall {wall * 1000 / count:.2f} ms, {statements / count:.1f} SQL statements each (BEGIN and COMMIT "
            "not counted)"
        )
        run += 1
    app.state.engine.dispose()


def _phone(k: int) -> str:
    """The k-th of 729,000 mobile numbers (06 12 10 10 10 to 06 12 99 99 99)."""
    return f"06 12 {10 + k % 90:02d} {10 + k // 90 % 90:02d} {10 + k // 8100 % 90:02d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale")
    parser.add_argument("--reuse", action="store_true", help="keep the generated database of a previous run")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--intake", type=int, default=3000)
    parser.add_argument("--keep-alive", action="store_true", help="intake over 16 long-lived connections")
    parser.add_argument("--in-process", type=int, default=1000, help="intake submissions in process (0: none)")
    args = parser.parse_args()
    if not args.reuse:
        recreate(args.url)
        migrations.upgrade(database_url=args.url)
        generate(args.url)
    token = token_for(args.url)
    bench_suggestions(args.url, token, args.samples)
    bench_intake(args.url, args.intake, args.keep_alive)
    if args.in_process:
        intake_in_process(args.url, args.in_process)


if __name__ == "__main__":
    main()

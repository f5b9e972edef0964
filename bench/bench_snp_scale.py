"""Unscheduled care at national scale, on PostgreSQL: 800 CPTS, 100,000 doctors, 2,000,000
future slots (20 per doctor over the next 14 days; 90 % visible to the SAS, 10 % booked).

Measures:
- GET /fhir/Slot (the SAS's INT_R04 search) for 25 random practitioners over 3 days, all
  _include parameters, in-process (TestClient: the whole app, no network): p50/p95/p99
  (targets: p50 < 10 ms, p99 < 30 ms);
- the same over loopback against `orientation serve --workers 2`, 16 concurrent clients of
  bench/loadgen.py (target: at least 300 requests/s);
- the search for a caller (GET /api/v1/snp/search, 48 h, 20 km) in-process (target: p99 < 30 ms).

Run: python bench/bench_snp_scale.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/bench_snp] [--reuse]"""

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_requests_scale as scale

from app.core import migrations
from app.core.database import build_engine
from app.core.settings import Settings
from app.snp.rules import PARIS

SLOTS_PER_DOCTOR = 20


def generate(url: str) -> None:
    scale.REQUESTS = 0  # the doctors and CPTS of the médecin-traitant benchmark, without its requests
    scale.generate(url)
    started = time.perf_counter()
    engine = build_engine(url)
    with engine.begin() as connection:
        # Generated data, consistent by construction: no row triggers (the feed's versions, migration
        # 0026, would update a doctor per slot) nor foreign-key checks for 2,000,000 rows.
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            text(f"""
            INSERT INTO snp_slots (territory_id, doctor_id, location_id, start_at, end_at, kind, visibility,
                                   sas_visible, appointment_type, status, created_at)
            SELECT d.territory_id, d.id, l.id, s.start_at, s.start_at + interval '20 minutes',
                   (ARRAY['AMB','AMB','AMB','HH','VR'])[1 + (d.id + g) % 5],
                   CASE WHEN (d.id + g) % 10 = 0 THEN 8 ELSE 12 END, (d.id + g) % 10 <> 0,
                   'ROUTINE', CASE WHEN (d.id * 7 + g) % 10 = 0 THEN 'booked' ELSE 'free' END, now()
            FROM doctors d JOIN practice_locations l ON l.doctor_id = d.id
            CROSS JOIN generate_series(0, {SLOTS_PER_DOCTOR - 1}) AS g
            CROSS JOIN LATERAL (SELECT date_trunc('day', now()) + interval '1 day' * (1 + (g * 7 + d.id) % 14)
                                       + interval '8 hours' + interval '20 minutes' * ((d.id + g * 3) % 36) AS start_at) s
        """)
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        count = connection.execute(text("SELECT count(*) FROM snp_slots")).scalar_one()
    engine.dispose()
    print(f"slots: {count:,} in {time.perf_counter() - started:.0f} s")


def _rpps_sample(url: str) -> list[str]:
    engine = build_engine(url)
    with engine.connect() as connection:
        rpps = connection.execute(text("SELECT rpps FROM doctors")).scalars().all()
    engine.dispose()
    return list(rpps)


def _slot_query(rng: random.Random, rpps: list[str]) -> str:
    start = datetime.now(PARIS).replace(microsecond=0)
    actors = ",".join(f"urn:oid:1.2.250.1.71.4.2.1|8{r}" for r in rng.sample(rpps, 25))
    return (
        f"/fhir/Slot?_include=Slot:schedule&_include:iterate=Schedule:actor&_include=Slot:service-type-reference"
        f"&_include:iterate=HealthcareService:organization&start=ge{quote(start.isoformat())}"
        f"&start=le{quote((start + timedelta(days=3)).isoformat())}"
        f"&schedule.actor:Practitioner.identifier={actors}&status=free"
    )


def bench_in_process(url: str, samples: int, token: str) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    rpps = _rpps_sample(url)
    rng = random.Random(5)
    app = create_app(Settings(database_url=url, secret_key="bench", log_level="WARNING", fhir_client_auth="none"))
    with TestClient(app) as client:
        latencies, slots = [], 0
        client.get(_slot_query(rng, rpps))
        for _ in range(samples):
            query = _slot_query(rng, rpps)
            started = time.perf_counter()
            response = client.get(query)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            slots += response.json()["total"]
        print(
            f"GET /fhir/Slot in-process, 25 practitioners x 3 days, {samples} queries "
            f"({slots / samples:.0f} slots per answer on average): {scale.quantiles(latencies)}"
        )

        headers = {"Authorization": f"Bearer {token}"}
        engine = build_engine(url)
        with engine.connect() as connection:
            places = connection.execute(
                text(
                    "SELECT d.territory_id, l.latitude, l.longitude FROM doctors d JOIN practice_locations l ON l.doctor_id = d.id "
                    "ORDER BY random() LIMIT 2000"
                )
            ).all()
        engine.dispose()
        latencies, found = [], 0
        for territory_id, lat, lon in places[:samples]:
            params = {"cpts": f"cpts-{territory_id}", "latitude": lat, "longitude": lon, "max_distance_km": 20}
            started = time.perf_counter()
            response = client.get("/api/v1/snp/search", params=params, headers=headers)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            found += response.json()["slots_examined"]
        print(
            f"GET /api/v1/snp/search in-process, 48 h, 20 km ({found / len(latencies):.0f} slots examined on average): "
            f"{scale.quantiles(latencies)}"
        )
    app.state.engine.dispose()


def bench_http(url: str, count: int, clients: int, keep_alive: bool) -> None:
    """The SAS's searches over loopback, from bench/loadgen.py (asyncio, raw sockets: it must
    cost the shared cores far less than the server it measures)."""
    import loadgen

    server, base = scale.serve(url, 2)
    host, port = base.removeprefix("http://").split(":")
    rpps = _rpps_sample(url)
    connection = "keep-alive" if keep_alive else "close"
    raw = [
        (
            f"GET {_slot_query(random.Random(n), rpps)} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Accept: application/fhir+json\r\nConnection: {connection}\r\n\r\n"
        ).encode()
        for n in range(count)
    ]
    try:
        loadgen.run(host, int(port), raw[:100], concurrency=clients, keep_alive=keep_alive)  # warm-up
        result = loadgen.run(host, int(port), raw, concurrency=clients, keep_alive=keep_alive)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(
        f"GET /fhir/Slot over loopback, 2 workers, {clients} clients ({'keep-alive' if keep_alive else 'a connection per request'}): "
        f"{count} in {result.elapsed:.1f} s = {count / result.elapsed:.0f} requests/s; statuses {dict(sorted(result.statuses.items()))}; "
        f"latency {scale.quantiles(result.latencies)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_snp")
    parser.add_argument("--reuse", action="store_true", help="keep the generated database of a previous run")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--http", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--keep-alive", action="store_true", help="long-lived connections instead of one per request")
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args()
    if not args.reuse:
        scale.recreate(args.url)
        migrations.upgrade(database_url=args.url)
        generate(args.url)
    if not args.skip_in_process:
        bench_in_process(args.url, args.samples, scale.token_for(args.url))
    bench_http(args.url, args.http, args.clients, args.keep_alive)


if __name__ == "__main__":
    main()

"""Residency checks over HTTP: a real server (uvicorn, 1 worker) on loopback, SQLite or the
database in ORIENTATION_DATABASE_URL, the demo territories, and a mix of addresses drawn from
the communes of both CPTS and their neighbours (postcode + name; a fifth undecidable).

Run: python bench/bench_residency.py [--requests 4000] [--concurrency 8]"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from app.territories.communes import get_commune_index

ORIENTATION = str(Path(sys.executable).parent / "orientation")


def queries(count: int) -> list[dict[str, str]]:
    communes = get_commune_index()
    rng = random.Random(42)
    nearby = [c for c in communes.by_postcode("62217") + communes.by_postcode("13790")]
    nearby += [communes.get(code) for code in ("62041", "62753", "13041", "13110", "13201")]
    mix = []
    for _ in range(count):
        commune = rng.choice(nearby)
        if rng.random() < 0.2:
            mix.append({"postcode": "62217"})  # → 422 with candidates
        else:
            mix.append({"postcode": commune.postcodes[0], "city": commune.name.upper()})
    return mix


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp()
    # The bench is one client address: lift the per-address limit it would otherwise hit.
    env = {**os.environ, "ORIENTATION_LOG_LEVEL": "WARNING", "ORIENTATION_LOOKUPS_PER_MINUTE": "1000000"}
    env.setdefault("ORIENTATION_DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    subprocess.run([ORIENTATION, "demo"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [ORIENTATION, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        mix = queries(args.requests)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        with httpx.Client(base_url=base, timeout=10) as client:
            client.get("/api/v1/residency", params=mix[0])  # warm-up

            def one(params: dict[str, str]) -> None:
                started = time.perf_counter()
                response = client.get("/api/v1/residency", params=params)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            started = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one, mix))
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies.sort()
    quantile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(f"database: {env['ORIENTATION_DATABASE_URL'].split('://')[0]}")
    print(f"{len(latencies)} requests, concurrency {args.concurrency}: {len(latencies) / elapsed:.0f} req/s")
    print(
        f"latency ms: p50 {quantile(0.5):.1f}  p95 {quantile(0.95):.1f}  p99 {quantile(0.99):.1f}  "
        f"mean {statistics.mean(latencies) * 1000:.1f}"
    )
    print(f"statuses: {dict(sorted(statuses.items()))}")


if __name__ == "__main__":
    main()

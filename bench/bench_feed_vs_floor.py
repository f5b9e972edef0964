"""The INT_R04 feed against its framework floor, in one run, on the same machine and load
generator: `orientation serve --workers 2` on the bench_snp_scale.py data (PostgreSQL:
100,000 doctors, 2,000,000 slots), then a minimal FastAPI/uvicorn app (2 workers) answering
a Bundle captured from the feed; both loaded by bench/loadgen.py over loopback with the same
requests (25 practitioners × 3 days, all _includes). Prints both rates and the ratio
(target: feed ≥ 1,000 requests/s, ratio ≥ 0.2).

The practitioners are drawn from a pool (--pool, default 5,000: the doctors a SAS polls again
and again); a warm-up pass over the pool fills the workers' fragments. --pool 100000 draws
from every doctor, as bench_snp_scale.py does (mostly cold fragments).

Run: python bench/bench_feed_vs_floor.py [--url …/bench_snp] [--generate] [--pool 5000]"""

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_requests_scale as scale
import bench_snp_scale as snp
import loadgen

from app.core import migrations


def _raw(host: str, port: str, path: str, keep_alive: bool) -> bytes:
    connection = "keep-alive" if keep_alive else "close"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/fhir+json\r\nConnection: {connection}\r\n\r\n"
    ).encode()


def _floor(bundle: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "feed_floor_app:app", "--port", str(port), "--workers", "2"]
        + ["--log-level", "warning", "--no-access-log"],
        env={**os.environ, "FLOOR_BUNDLE": str(bundle), "PYTHONPATH": str(Path(__file__).resolve().parent)},
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
    raise RuntimeError("floor server did not start")


def _rss_mb(server: subprocess.Popen) -> str:
    """The resident memory of each worker (the children of the server process)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(server.pid) and "VmRSS" in fields:
            found.append(int(fields["VmRSS"].split()[0]) / 1024)
    return ", ".join(f"{mb:.0f} MB" for mb in sorted(found)) or "?"


def _load(base: str, raw: list[bytes], clients: int, keep_alive: bool) -> loadgen.Result:
    host, port = base.removeprefix("http://").split(":")
    return loadgen.run(host, int(port), raw, concurrency=clients, keep_alive=keep_alive)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_snp")
    parser.add_argument("--generate", action="store_true", help="(re)create the data first (bench_snp_scale.py's)")
    parser.add_argument("--pool", type=int, default=5000, help="practitioners the searches draw from")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--keep-alive", action="store_true", help="long-lived connections instead of one per request")
    parser.add_argument(
        "--code", help="serve the feed from another checkout's app/ (e.g. /work/main: the figure before)"
    )
    args = parser.parse_args()
    if args.generate:
        scale.recreate(args.url)
        migrations.upgrade(database_url=args.url)
        snp.generate(args.url)
    if args.code:
        os.environ["PYTHONPATH"] = args.code
    else:
        migrations.upgrade(database_url=args.url)
    rng = random.Random(18)
    pool = rng.sample(snp._rpps_sample(args.url), args.pool)
    queries = [snp._slot_query(random.Random(n), pool) for n in range(args.requests)]
    # Every practitioner of the pool once per worker (the kernel spreads connections between them).
    warm = [snp._slot_query(random.Random(-n), pool) for n in range(2 * (args.pool // 25 + 1))]
    warm += queries[:200]

    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    feed, base = scale.serve(args.url, 2)
    host, port = base.removeprefix("http://").split(":")
    try:
        captured = httpx.get(base + queries[0], headers={"Accept": "application/fhir+json"}, timeout=10)
        assert captured.status_code == 200, captured.text
        bundle = captured.content
        _load(base, [_raw(host, port, q, args.keep_alive) for q in warm], args.clients, args.keep_alive)
        result = _load(base, [_raw(host, port, q, args.keep_alive) for q in queries], args.clients, args.keep_alive)
        feed_rss = _rss_mb(feed)
    finally:
        feed.terminate()
        feed.wait(timeout=20)
    feed_rate = args.requests / result.elapsed
    mode = "keep-alive" if args.keep_alive else "a connection per request"
    print(
        f"feed:  {feed_rate:.0f} requests/s ({args.requests} in {result.elapsed:.1f} s, 2 workers, {args.clients} clients, "
        f"{mode}; statuses {dict(sorted(result.statuses.items()))}; {scale.quantiles(result.latencies)}); "
        f"workers' RSS {feed_rss}"
    )

    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as file:
        file.write(bundle)
    floor, base = _floor(Path(file.name))
    host, port = base.removeprefix("http://").split(":")
    try:
        _load(base, [_raw(host, port, q, args.keep_alive) for q in queries[:500]], args.clients, args.keep_alive)
        result = _load(base, [_raw(host, port, q, args.keep_alive) for q in queries], args.clients, args.keep_alive)
    finally:
        floor.terminate()
        floor.wait(timeout=20)
        os.unlink(file.name)
    floor_rate = args.requests / result.elapsed
    print(
        f"floor: {floor_rate:.0f} requests/s (the same, a {len(bundle):,}-byte Bundle from memory; "
        f"statuses {dict(sorted(result.statuses.items()))}; {scale.quantiles(result.latencies)})"
    )
    print(f"ratio: {feed_rate / floor_rate:.2f} (pool {args.pool} practitioners)")
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()

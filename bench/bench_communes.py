"""Communes table: load time and the cost of each lookup. Run: python bench/bench_communes.py"""

import time
from pathlib import Path

from app.territories.communes import CommuneIndex

DATA = Path(__file__).resolve().parents[1] / "app" / "territories" / "data" / "communes.csv.gz"


def per_call_us(action, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) / repeat * 1e6


def main() -> None:
    started = time.perf_counter()
    index = CommuneIndex.from_packaged_file()
    load = time.perf_counter() - started
    started = time.perf_counter()
    index.search("warm-up")
    prefix_build = time.perf_counter() - started
    print(f"file: {DATA.stat().st_size:,} bytes, {len(index):,} communes")
    print(f"load: {load * 1000:.0f} ms; prefix index (first search): {prefix_build * 1000:.0f} ms")
    cases = {
        "get('62041')": (lambda: index.get("62041"), 100_000),
        "by_postcode('62217')": (lambda: index.by_postcode("62217"), 100_000),
        "match('62217', 'tilloy les mofflaines')": (
            lambda: index.match("62217", "tilloy les mofflaines"), 100_000),
        "search('arras')": (lambda: index.search("arras"), 5_000),
        "search('sain') (~10k prefixes)": (lambda: index.search("sain"), 2_000),
        "search('s') (worst case)": (lambda: index.search("s"), 500),
        "search('6221')": (lambda: index.search("6221"), 5_000),
    }  # fmt: skip
    for name, (action, repeat) in cases.items():
        print(f"{name:45s} {per_call_us(action, repeat):9.1f} µs/call")


if __name__ == "__main__":
    main()

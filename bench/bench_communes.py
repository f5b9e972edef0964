"""Communes table: file size, load time and the cost of each lookup.

Run: python bench/bench_communes.py"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from app.territories.communes import CommuneIndex

DATA = Path(__file__).resolve().parents[1] / "app" / "territories" / "data" / "communes.csv.gz"


def per_call_us(action, repeat: int) -> float:
    action()  # warm-up
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) / repeat * 1e6


def main() -> None:
    loads = []
    for _ in range(5):
        started = time.perf_counter()
        index = CommuneIndex.from_packaged_file()
        loads.append(time.perf_counter() - started)
    print(f"file: {DATA.stat().st_size:,} bytes, {len(index):,} communes")
    print(f"load (file to ready index): first {loads[0] * 1000:.0f} ms, best of 5 {min(loads) * 1000:.0f} ms")
    cases = {
        "get('62041')": (lambda: index.get("62041"), 200_000),
        "by_postcode('62217')": (lambda: index.by_postcode("62217"), 200_000),
        "match('62217', 'tilloy les mofflaines')": (lambda: index.match("62217", "tilloy les mofflaines"), 100_000),
        "match('13001', 'Marseille')": (lambda: index.match("13001", "Marseille"), 100_000),
        "match('62520', 'le touquet paris plage')": (lambda: index.match("62520", "le touquet paris plage"), 100_000),
        "match('62520', 'Touquet-Paris-Plage')": (lambda: index.match("62520", "Touquet-Paris-Plage"), 100_000),
        "match('62520', 'LE TOUQUET') (start of a name)": (lambda: index.match("62520", "LE TOUQUET"), 100_000),
        "match('09000', 'Mercatel') (no such commune)": (lambda: index.match("09000", "Mercatel"), 20_000),
        "find_by_name('Saint-Martin')": (lambda: index.find_by_name("Saint-Martin"), 100_000),
        "search('arras')": (lambda: index.search("arras"), 10_000),
        "search('mofflaines')": (lambda: index.search("mofflaines"), 10_000),
        "search('sain') (~5k prefix entries)": (lambda: index.search("sain"), 1_000),
        "search('s') (worst case, ~10k entries)": (lambda: index.search("s"), 500),
        "search('6221')": (lambda: index.search("6221"), 10_000),
        "search('62041')": (lambda: index.search("62041"), 10_000),
    }
    for name, (action, repeat) in cases.items():
        print(f"{name:48s} {per_call_us(action, repeat):9.1f} µs/call")


if __name__ == "__main__":
    main()

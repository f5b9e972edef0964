"""The framework floor of the INT_R04 feed: the same FastAPI/uvicorn stack answering one
captured Bundle's bytes from memory (bench/bench_feed_vs_floor.py runs it with 2 workers)."""

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

BUNDLE = Path(os.environ["FLOOR_BUNDLE"]).read_bytes()
app = FastAPI()


@app.get("/fhir/Slot")
def search_slots() -> Response:  # sync, in the thread pool, as the feed's endpoint
    return Response(BUNDLE, media_type="application/fhir+json")


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}

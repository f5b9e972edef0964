"""The INT_R04 feed from pre-built, per-practitioner fragments.

Slots change rarely and are read often: the serialised FHIR JSON of each practitioner's Slot,
Schedule, Practitioner, PractitionerRole (with its Location) and of the HealthcareService and
Organization its slots name is kept, per worker, in a bounded LRU cache keyed by the doctor
and the day-aligned window it covers, and labelled with the doctor's `sas_feed_version`.

That version is bumped by database triggers (migration 0026) in the transaction of every write
that changes what the feed shows of the doctor: a slot created, booked, freed, edited or
deleted (a pattern's slots included), a practice or the doctor edited, the CPTS renamed. Each
search first reads the versions of the practitioners it names (one indexed query); a fragment
whose version differs is rebuilt from the database, in one query for all of them, which reads
each slot together with its doctor's version (the same snapshot). A booking committed before
the search began has bumped the version the search reads, so its slot is never served as free.
A doctor's fragment holds its own slots and the centres' slots it is named to work
(`worked_by_doctor_id`, under Schedule/PractitionerRole "{doctor}-c{centre}").

With a read replica (READ_DATABASE_URL), the versions and the rebuilds are read there, with the
candidates; the slot ids of the answer are then confirmed free on the primary (`slot_ids`, then
`searchset_bytes(free=…)`): a replica lags, and a slot the primary has booked is never offered.

A fragment carries two placeholders: the public base URL (fullUrl, the booking link), filled
once per answer, and each Slot's booking token (`comment`), signed per slot and per answer as
before (app.snp.sas_links): the links' expiry is still that of the answer."""

import dataclasses
import random
import threading
import uuid
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection

from app.fhir import profiles as p
from app.fhir import slots as build
from app.snp import service as snp_service
from app.snp.repository import SasSlotRow

BASE = "\ue000base\ue000"  # private-use characters: orjson writes them as they are, no real text has them
TOKEN = "\ue000token\ue000"
_BASE, _TOKEN = BASE.encode(), TOKEN.encode()
DAY = timedelta(days=1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FragmentSlot:
    start_at: datetime
    slot_id: int
    # The searchset entry cut where the base URL and the token go: (…, base, …, base, …, token, …).
    pieces: tuple[bytes, ...]
    schedule_key: str  # Schedule/PractitionerRole id, "{doctor}-{location}" or "{doctor}-c{centre}"
    territory_id: int


@dataclass(frozen=True)
class Fragment:
    version: int
    starts: list[datetime]  # of `slots`, for bisect
    slots: list[FragmentSlot]  # by (start, id)
    # The included entries, each cut where the base URL goes (fullUrl).
    practitioner: tuple[bytes, ...] | None
    roles: dict[str, tuple[tuple[bytes, ...], tuple[bytes, ...]]]  # schedule key -> Schedule, PractitionerRole
    services: dict[int, tuple[tuple[bytes, ...], tuple[bytes, ...]]]  # territory -> HealthcareService, Organization


def _entry(resource: dict, mode: str) -> tuple[bytes, ...]:
    """The entry's JSON cut at each placeholder: the pieces between them, in order."""
    key = f"{resource['resourceType']}/{resource['id']}"
    encoded = orjson.dumps({"fullUrl": f"{BASE}/fhir/{key}", "resource": resource, "search": {"mode": mode}})
    pieces: list[bytes] = []
    for part in encoded.split(_BASE):
        pieces.extend(part.split(_TOKEN))
    return tuple(pieces)


_MARK = BASE[0]


def _without_markers(row: SasSlotRow) -> SasSlotRow:
    """The row, with the placeholders' private-use character (which no real name or address
    holds) replaced in its text: a fragment is cut at each placeholder, and must be cut right."""
    changed: dict[str, Any] = {
        name: value.replace(_MARK, "\ufffd")
        for name, value in vars(row).items()
        if isinstance(value, str) and _MARK in value
    }
    return dataclasses.replace(row, **changed) if changed else row


def build_fragment(version: int, rows: list[SasSlotRow], booking_prefix: str) -> Fragment:
    """One doctor's fragment from its rows (booking_prefix: the booking link up to the slot id)."""
    rows = sorted((_without_markers(row) for row in rows), key=lambda row: (row.start_at, row.slot_id))
    slots, roles, services = [], {}, {}
    practitioner = None
    for row in rows:
        # "{doctor}-{practice}", or "{doctor}-c{centre}" for a centre's slot the doctor works.
        key = build.role_id(row.doctor_id, row.place_id)
        link = f"{booking_prefix}{row.slot_id}/reserver?origin=sas&sas={TOKEN}"
        slots.append(
            FragmentSlot(row.start_at, row.slot_id, _entry(build.slot(row, link), "match"), key, row.territory_id)
        )
        if practitioner is None:
            practitioner = _entry(
                build.practitioner(row.doctor_id, row.rpps, row.family_name, row.given_name), "include"
            )
        if key not in roles:
            role = build.practitioner_role(
                row.doctor_id,
                row.place_id,
                row.address,
                row.postcode,
                row.city,
                row.location_phone or row.doctor_phone,
            )
            roles[key] = (
                _entry(build.schedule(row.doctor_id, row.place_id), "include"),
                _entry(role, "include"),
            )
        if row.territory_id not in services:
            services[row.territory_id] = (
                _entry(build.healthcare_service(row.territory_id, row.territory_name), "include"),
                _entry(
                    build.organization(row.territory_id, row.territory_name, row.finess, row.territory_phone),
                    "include",
                ),
            )
    return Fragment(version, [s.start_at for s in slots], slots, practitioner, roles, services)


class FragmentCache:
    """An LRU of fragments, keyed by (doctor, window start day, window end day); thread-safe
    (the feed's endpoint runs in the thread pool)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, int, int], Fragment] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[int, int, int], version: int) -> Fragment | None:
        with self._lock:
            fragment = self._items.get(key)
            if fragment is None or fragment.version != version:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return fragment

    def put(self, key: tuple[int, int, int], fragment: Fragment) -> None:
        if self.size <= 0:
            return
        with self._lock:
            current = self._items.get(key)
            if current is not None and current.version > fragment.version:
                return  # a rival thread stored a newer one meanwhile
            self._items[key] = fragment
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _days(start: datetime, end: datetime) -> tuple[int, int, datetime, datetime]:
    """The whole UTC days around the window: what a fragment covers, so the SAS's searches of
    the same day (now → now + 3 days, a minute apart) share their fragments."""
    first = (start - EPOCH) // DAY
    last = (end - EPOCH) // DAY + 1
    return first, last, EPOCH + first * DAY, EPOCH + last * DAY - timedelta(microseconds=1)


def fragments(
    connection: Connection, cache: FragmentCache, rpps: list[str], start: datetime, end: datetime, booking_prefix: str
) -> list[Fragment]:
    """The fragments of these practitioners covering [start, end], current as of this call."""
    versions = snp_service.sas_feed_versions(connection, rpps)
    first, last, cover_from, cover_to = _days(start, end)
    found: dict[int, Fragment] = {}
    missing: dict[int, int] = {}
    for doctor_id, version in versions:
        fragment = cache.get((doctor_id, first, last), version)
        if fragment is None:
            missing[doctor_id] = version
        else:
            found[doctor_id] = fragment
    if missing:
        rows: dict[int, list[SasSlotRow]] = {doctor_id: [] for doctor_id in missing}
        for version, row in snp_service.sas_fragment_rows(connection, list(missing), cover_from, cover_to):
            rows[row.doctor_id].append(row)
            # Read with the slot, in the same snapshot: never older than the rows it labels.
            missing[row.doctor_id] = version
        for doctor_id, doctor_rows in rows.items():
            fragment = build_fragment(missing[doctor_id], doctor_rows, booking_prefix)
            cache.put((doctor_id, first, last), fragment)
            found[doctor_id] = fragment
    return [found[doctor_id] for doctor_id, _ in versions]


def _matched(
    parts: list[Fragment], start: datetime, end: datetime
) -> list[tuple[datetime, int, FragmentSlot, Fragment]]:
    matched: list[tuple[datetime, int, FragmentSlot, Fragment]] = []
    for fragment in parts:
        low, high = bisect_left(fragment.starts, start), bisect_right(fragment.starts, end)
        matched.extend((s.start_at, s.slot_id, s, fragment) for s in fragment.slots[low:high])
    return matched


def slot_ids(parts: list[Fragment], start: datetime, end: datetime) -> list[int]:
    """The ids of the slots an answer from these fragments would offer (what a read replica's
    answer must have confirmed on the primary, app.snp.service.free_on_primary)."""
    return [slot_id for _, slot_id, _, _ in _matched(parts, start, end)]


def searchset_bytes(
    parts: list[Fragment],
    start: datetime,
    end: datetime,
    includes: build.Includes,
    public_base: str,
    self_url: str,
    token: Callable[[int], str],
    free: set[int] | None = None,
) -> bytes:
    """The searchset Bundle, as app.fhir.slots.searchset writes it (the same entries in the
    same order), assembled from the fragments' bytes. `free`: when given, only the slots it
    holds are offered (those the primary confirmed free; their includes follow them)."""
    matched = _matched(parts, start, end)
    if free is not None:
        matched = [item for item in matched if item[1] in free]
    matched.sort(key=lambda item: (item[0], item[1]))
    base = orjson.dumps(public_base)[1:-1]  # JSON-escaped as orjson would write it
    pieces: list[bytes] = []
    included: dict[str, tuple[bytes, ...]] = {}
    for _, slot_id, slot, fragment in matched:
        p0, p1, p2, p3 = slot.pieces
        pieces += (p0, base, p1, base, p2, token(slot_id).encode(), p3, b",")
        if includes.schedule:
            schedule_entry, role_entry = fragment.roles[slot.schedule_key]
            included.setdefault("S" + slot.schedule_key, schedule_entry)
            if includes.actors and fragment.practitioner is not None:
                included.setdefault("P" + slot.schedule_key.partition("-")[0], fragment.practitioner)
                included.setdefault("R" + slot.schedule_key, role_entry)
        if includes.service:
            service_entry, organization_entry = fragment.services[slot.territory_id]
            included.setdefault(f"H{slot.territory_id}", service_entry)
            if includes.organization:
                included.setdefault(f"O{slot.territory_id}", organization_entry)
    head = orjson.dumps(
        {
            "resourceType": "Bundle",
            "id": str(uuid.UUID(int=random.getrandbits(128), version=4)),
            "meta": {"profile": [p.BUNDLE]},
            "type": "searchset",
            "total": len(matched),
            "link": [{"relation": "self", "url": self_url}],
        }
    )
    for first, rest in included.values():
        pieces += (first, base, rest, b",")
    if pieces:
        pieces.pop()  # the last comma
    return b"".join((head[:-1], b',"entry":[', *pieces, b"]}"))

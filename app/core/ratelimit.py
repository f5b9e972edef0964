"""Rate limits of the public endpoints, per client address, in fixed windows.

`memory` counts in the process (one worker); `database` counts in the shared database, so
the limit holds across several workers and hosts."""

import threading
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from sqlalchemy import Integer, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.core.database import Base, own_transaction
from app.core.errors import TooManyRequests


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_index: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // window length
    count: Mapped[int] = mapped_column(Integer)


class Store(Protocol):
    blocking: bool  # does increment() wait on I/O (then it runs in the thread pool)?

    def increment(self, key: str, window: int) -> int: ...


class MemoryStore:
    blocking = False

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def increment(self, key: str, window: int) -> int:
        with self._lock:
            if len(self._counts) > 100_000:  # drop windows gone by
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            self._counts[(key, window)] = self._counts.get((key, window), 0) + 1
            return self._counts[(key, window)]


class DatabaseStore:
    blocking = True

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def increment(self, key: str, window: int) -> int:
        with own_transaction(self._sessions) as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            first_hit = insert(RateLimitCounter).values(key=key, window_index=window, count=1)
            statement = first_hit.on_conflict_do_update(
                index_elements=["key", "window_index"], set_={"count": RateLimitCounter.count + 1}
            ).returning(RateLimitCounter.count)
            count = session.execute(statement).scalar_one()
            if count == 1:  # first hit of a window: forget the windows before it
                session.execute(
                    delete(RateLimitCounter).where(RateLimitCounter.key == key, RateLimitCounter.window_index < window)
                )
            return count


@dataclass(frozen=True)
class Limit:
    """FastAPI dependency: 429 with Retry-After past `setting` (a Settings field) hits per minute."""

    name: str
    setting: str
    seconds: int = 60

    async def __call__(self, request: Request) -> None:
        # async: counting in memory is cheaper than a hop to the thread pool; only a store
        # that waits on the database is sent there.
        from app.accounts.principal import client_address

        limiter: Store = request.app.state.rate_limit_store
        per_window = getattr(request.app.state.settings, self.setting)
        now = int(request.app.state.clock().timestamp())
        window = now // self.seconds
        key = f"{self.name}:{client_address(request) or 'unknown'}"
        count = (
            await run_in_threadpool(limiter.increment, key, window)
            if limiter.blocking
            else limiter.increment(key, window)
        )
        if count > per_window:
            retry = self.seconds - now % self.seconds
            raise TooManyRequests(
                "Trop de demandes depuis cette adresse : réessayez dans un instant.",
                headers={"Retry-After": str(retry)},
            )


INTAKE = Limit("intake", "intake_per_minute")
LOOKUPS = Limit("lookups", "lookups_per_minute")
LOGIN = Limit("login", "intake_per_minute")

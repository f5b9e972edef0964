"""/metrics, in the Prometheus text format (prometheus-client), for the operator's scraper.

Two kinds of figures, gathered two ways:

- **Request latencies** (`orientation_http_request_duration_seconds`, a histogram by method,
  route *template* and status: `/api/v1/requests/{request_id}`, never the path itself, which
  holds ids) happen in each process. With several uvicorn workers, each observes its own
  requests: prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, which
  `orientation serve --workers N` sets up) writes them to files the scrape adds up, whichever
  worker answers it.
- **The state of the service** (outbox depth and oldest pending message, SAS push failures,
  retention runs, the workers' heartbeats, the schema's revision) lives in the database: it is
  read there at scrape time, so every worker and every host answers the same, and the
  `orientation worker` processes, which serve no HTTP, are seen too.

No label carries personal data: routes are templates, channels and statuses are our own
words, the worker count has no label at all.

Closed by default: 404 unless METRICS_TOKEN or METRICS_ALLOWED_CLIENTS is set."""

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.core.proxies import client_address, trusted_networks
from app.core.settings import Settings

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_DURATION = Histogram(
    "orientation_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Called by app.core.logging.RequestLogMiddleware for every request."""
    REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)


class _Default(Collector):
    """The process's default registry (the histograms, the process and GC collectors), as
    part of a scrape's own registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class DatabaseCollector(Collector):
    """The state of the service, read from the database at each scrape (see module docstring)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("orientation_database_up", "1 when the database answered this scrape's queries.")
        try:
            metrics = list(self._read())
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> Iterator[Metric]:
        from app.audit.models import AuditEvent
        from app.core.migrations import code_head
        from app.notifications.models import MessageStatus, OutboxMessage, WorkerHeartbeat
        from app.notifications.outbox import HEARTBEAT_EVERY

        now = self.clock()
        message = OutboxMessage.__table__
        with self.engine.connect() as connection:
            by_state = connection.execute(
                select(message.c.channel, message.c.status, func.count())
                .where(message.c.status != MessageStatus.SENT.value)
                .group_by(message.c.channel, message.c.status)
            ).all()
            oldest = connection.execute(
                select(message.c.channel, func.min(message.c.created_at))
                .where(message.c.status.in_([MessageStatus.PENDING.value, MessageStatus.SENDING.value]))
                .group_by(message.c.channel)
            ).all()
            sas_retrying = connection.execute(
                select(func.count()).where(
                    message.c.channel == "sas",
                    message.c.status == MessageStatus.PENDING.value,
                    message.c.last_error.is_not(None),
                )
            ).scalar_one()
            audit = AuditEvent.__table__
            runs = connection.execute(
                select(func.count(), func.max(audit.c.at)).where(audit.c.action == "retention.run")
            ).one()
            last_details = connection.execute(
                select(audit.c.details)
                .where(audit.c.action == "retention.run")
                .order_by(audit.c.at.desc(), audit.c.id.desc())
                .limit(1)
            ).scalar()
            beat = WorkerHeartbeat.__table__
            alive = connection.execute(
                select(func.count()).where(beat.c.seen_at >= now - 4 * HEARTBEAT_EVERY)
            ).scalar_one()
            last_seen = connection.execute(select(func.max(beat.c.seen_at))).scalar()
            revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

        depth = GaugeMetricFamily(
            "orientation_outbox_messages",
            "Outbox messages not sent (yet), by channel and status (pending, sending, failed: given up).",
            labels=["channel", "status"],
        )
        for state in (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.FAILED):
            for channel in ("email", "sms", "sas"):  # always present, so that alerts see zeros
                count = sum(n for c, s, n in by_state if c == channel and s == state.value)
                depth.add_metric([channel, state.value], count)
        yield depth
        age = GaugeMetricFamily(
            "orientation_outbox_oldest_pending_age_seconds",
            "Age of the oldest message waiting to be sent (pending or sending), by channel; 0 when none.",
            labels=["channel"],
        )
        oldest_by_channel = {channel: created for channel, created in oldest}
        for channel in ("email", "sms", "sas"):
            created = _aware(oldest_by_channel.get(channel))
            age.add_metric([channel], max((now - created).total_seconds(), 0.0) if created else 0.0)
        yield age

        failed = sum(n for c, s, n in by_state if c == "sas" and s == MessageStatus.FAILED.value)
        yield GaugeMetricFamily(
            "orientation_sas_push_failed_messages",
            "Appointments the SAS push gave up on (refused by the platform, or too many attempts).",
            value=failed,
        )
        yield GaugeMetricFamily(
            "orientation_sas_push_retrying_messages",
            "Appointments whose push to the SAS failed at least once and waits for its next attempt.",
            value=sas_retrying,
        )

        count, last_at = runs
        yield GaugeMetricFamily(
            "orientation_retention_runs", "Retention runs recorded in the audit trail.", value=count
        )
        last = _aware(last_at)
        yield GaugeMetricFamily(
            "orientation_retention_last_run_timestamp_seconds",
            "When the last retention run ended (Unix time); 0 when none ran.",
            value=last.timestamp() if last else 0.0,
        )
        erased = GaugeMetricFamily(
            "orientation_retention_last_run_rows",
            "What the last retention run erased or dropped, by kind of record (counts only).",
            labels=["kind"],
        )
        for kind, number in sorted((last_details or {}).items()):
            erased.add_metric([str(kind)], float(number))
        yield erased

        yield GaugeMetricFamily(
            "orientation_workers_alive",
            f"Workers (orientation worker, serve --with-worker) seen in the last {4 * HEARTBEAT_EVERY.seconds} s.",
            value=alive,
        )
        seen = _aware(last_seen)
        yield GaugeMetricFamily(
            "orientation_worker_last_heartbeat_age_seconds",
            "Seconds since a worker last said it was alive; -1 when no worker ever did.",
            value=max((now - seen).total_seconds(), 0.0) if seen else -1.0,
        )
        yield GaugeMetricFamily(
            "orientation_schema_at_head",
            "1 when the database's migrations are those of this code (orientation db upgrade otherwise).",
            value=1 if revision == code_head() else 0,
        )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back from a bare select of a UTC column: they are UTC."""
    from datetime import UTC

    if moment is None or isinstance(moment, str):
        return datetime.fromisoformat(moment).replace(tzinfo=UTC) if moment else None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def render(engine: Engine, clock: Callable[[], datetime]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)  # every worker's histograms, added up
    else:
        registry.register(_Default())
    registry.register(DatabaseCollector(engine, clock))
    return generate_latest(registry)


def may_scrape(request: Request, settings: Settings) -> int | None:
    """None when this client may read /metrics, else the status to answer."""
    if not settings.metrics_token and not settings.metrics_allowed_clients.strip():
        return 404  # closed by default: not even its existence is told
    if settings.metrics_allowed_clients.strip():
        address = client_address(request.scope, settings)
        try:
            parsed = ipaddress.ip_address(address or "")
        except ValueError:
            return 404
        if not any(parsed in network for network in trusted_networks(settings.metrics_allowed_clients)):
            return 404
    if settings.metrics_token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), settings.metrics_token):
            return 401
    return None


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    from app.core.errors import NotFound, Unauthorized  # app.core.errors imports app.core.logging, which imports us

    settings: Settings = request.app.state.settings
    refused = may_scrape(request, settings)
    if refused == 404:
        raise NotFound("Introuvable.")
    if refused == 401:
        raise Unauthorized("Jeton de supervision absent ou invalide.", headers={"WWW-Authenticate": "Bearer"})
    return Response(render(request.app.state.engine, request.app.state.clock), media_type=CONTENT_TYPE)

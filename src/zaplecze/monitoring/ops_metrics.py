"""`/metrics`: the Prometheus text exposition.

Two sources:

* counters and histograms kept by every process (requests, task outcomes), read from the multiprocess
  directory (`core/opsmetrics.py`);
* gauges computed at scrape from the database, the queue and the analytics spool (`OpsCollector`): queue
  depth, the worker's heartbeat, jobs by state, sync lag and open sync errors per channel, webhook
  deliveries, outbox e-mails, the collector's spool and today's events, storefront checks and incidents.

Each section is computed on its own; one that fails (the database is down, say) is left out and reported as
`zaplecze_metrics_section_up{section="..."} 0`, so the scrape itself still answers.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable

from django.apps import apps
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from zaplecze.analytics import spool
from zaplecze.core import heartbeat, opsmetrics

from . import ops_checks

log = logging.getLogger("zaplecze.ops")


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or [])


def _queue() -> Iterable[Metric]:
    from huey.contrib.djhuey import HUEY

    pending = _gauge("zaplecze_queue_pending_tasks", "Tasks waiting in the queue for the worker.")
    pending.add_metric([], HUEY.pending_count())
    scheduled = _gauge("zaplecze_queue_scheduled_tasks", "Tasks scheduled for later (retries, delays).")
    scheduled.add_metric([], HUEY.scheduled_count())
    yield from (pending, scheduled)
    beat = heartbeat.last()
    ts = _gauge(
        "zaplecze_worker_heartbeat_timestamp_seconds",
        "When the worker last wrote its heartbeat (Unix time; 0: never).",
    )
    ts.add_metric([], float(beat["at"]) if beat else 0.0)
    yield ts
    if beat:
        age = _gauge("zaplecze_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.")
        age.add_metric([], max(0.0, time.time() - float(beat["at"])))
        yield age


def _jobs() -> Iterable[Metric]:
    from zaplecze.core.models import Job

    counts = dict(Job.objects.order_by().values_list("state").annotate(n=Count("id")))
    jobs = _gauge("zaplecze_jobs", "Long jobs started by users (imports, reports, ...) by state.", ["state"])
    for state in Job.State.values:
        jobs.add_metric([state], counts.get(state, 0))
    yield jobs


def _sync() -> Iterable[Metric]:
    from zaplecze.integrations.models import Connection, ConnectionStatus, SyncError, WebhookDelivery

    now = timezone.now()
    open_errors = dict(
        SyncError.objects.filter(state=SyncError.State.OPEN)
        .order_by()
        .values_list("connection_id")
        .annotate(n=Count("id"))
    )
    labels = ["channel", "platform"]
    last_ts = _gauge(
        "zaplecze_sync_last_success_timestamp_seconds",
        "When the channel's last successful sync ended (Unix time; 0: never).",
        labels,
    )
    lag = _gauge(
        "zaplecze_sync_last_success_age_seconds",
        "Seconds since the channel's last successful sync (channels that synced at least once).",
        labels,
    )
    errors = _gauge("zaplecze_sync_open_errors", "Records the sync could not take in, still open.", labels)
    enabled = _gauge("zaplecze_sync_enabled", "1 when the channel's connection is enabled.", labels)
    status = _gauge("zaplecze_sync_status", "1 for the connection's current status.", [*labels, "status"])
    rejected = _gauge(
        "zaplecze_webhook_rejected_deliveries",
        "Webhook deliveries refused for a bad signature (running count kept on the connection).",
        labels,
    )
    for conn in Connection.objects.select_related("channel").order_by("id"):
        key = [conn.channel.code, conn.platform]
        if conn.last_success_at:
            last_ts.add_metric(key, conn.last_success_at.timestamp())
            lag.add_metric(key, max(0.0, (now - conn.last_success_at).total_seconds()))
        else:
            last_ts.add_metric(key, 0.0)
        errors.add_metric(key, open_errors.get(conn.pk, 0))
        enabled.add_metric(key, 1 if conn.enabled else 0)
        for value in ConnectionStatus.values:
            status.add_metric([*key, value], 1 if conn.status == value else 0)
        rejected.add_metric(key, conn.rejected_deliveries)
    yield from (last_ts, lag, errors, enabled, status, rejected)
    deliveries = _gauge("zaplecze_webhook_deliveries", "Received webhook deliveries by state.", ["state"])
    counts = dict(WebhookDelivery.objects.order_by().values_list("state").annotate(n=Count("id")))
    for state in WebhookDelivery.State.values:
        deliveries.add_metric([state], counts.get(state, 0))
    yield deliveries


def _outbox() -> Iterable[Metric]:
    from zaplecze.service.models import OutboxEmail

    counts = dict(OutboxEmail.objects.order_by().values_list("state").annotate(n=Count("id")))
    emails = _gauge("zaplecze_outbox_emails", "Customer e-mails in the outbox by state.", ["state"])
    for state in OutboxEmail.State.values:
        emails.add_metric([state], counts.get(state, 0))
    yield emails
    oldest = OutboxEmail.objects.filter(state=OutboxEmail.State.PENDING).aggregate(m=Min("created_at"))["m"]
    age = _gauge(
        "zaplecze_outbox_oldest_pending_age_seconds", "Age of the oldest e-mail waiting to be sent (0: none)."
    )
    age.add_metric([], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)
    yield age


def _collector() -> Iterable[Metric]:
    backlog = ops_checks.spool_backlog()
    pending = _gauge(
        "zaplecze_collector_spool_pending_bytes",
        "Collector events on disk not yet flushed to Parquet (bytes).",
    )
    pending.add_metric([], backlog.pending_bytes)
    segments = _gauge("zaplecze_collector_spool_segments", "Spool segment files (flushed or not).")
    segments.add_metric([], backlog.segments)
    age = _gauge(
        "zaplecze_collector_spool_oldest_pending_age_seconds",
        "Age of the oldest spool segment with unflushed events (0: none).",
    )
    age.add_metric([], backlog.oldest_pending_age_s)
    yield from (pending, segments, age)
    yield from _collector_today()


def _collector_today() -> Iterable[Metric]:
    """Events and drops the flusher stored for today (UTC), from the Parquet files' metadata and the small
    drop-count files. Events still in the spool are not in these figures (see the spool gauges)."""
    import pyarrow.parquet as pq

    day = dt.datetime.now(dt.UTC).date().isoformat()
    base = spool.root()
    stored = 0
    for path in sorted((base / "events" / f"date={day}").glob("*.parquet")):
        try:
            stored += pq.read_metadata(path).num_rows
        except (FileNotFoundError, OSError):  # compacted away meanwhile
            continue
    events = _gauge(
        "zaplecze_collector_events_stored_today", "Events flushed into the warehouse for today (UTC date)."
    )
    events.add_metric([], stored)
    yield events
    drops: dict[tuple[str, str], int] = {}
    for path in sorted((base / "drops" / f"date={day}").glob("*.parquet")):
        try:
            table = pq.read_table(path, columns=["step", "reason", "count"]).to_pydict()
        except (FileNotFoundError, OSError):
            continue
        for step, reason, count in zip(table["step"], table["reason"], table["count"], strict=True):
            drops[(step or "", reason or "")] = drops.get((step or "", reason or ""), 0) + int(count or 0)
    dropped = _gauge(
        "zaplecze_collector_events_dropped_today",
        "Events the collector dropped today (UTC date), by pipeline step and reason (flushed drops only).",
        ["step", "reason"],
    )
    for (step, reason), count in sorted(drops.items()):
        dropped.add_metric([step, reason], count)
    yield dropped


def _storefront() -> Iterable[Metric]:
    """Storefront checks and open incidents (the monitoring app's own models)."""
    try:
        check_model = apps.get_model("monitoring", "StorefrontCheck")
        incident_model = apps.get_model("monitoring", "Incident")
    except LookupError:
        return
    checks = _gauge("zaplecze_storefront_checks", "Storefront checks by current state.", ["state"])
    for state, n in check_model.objects.order_by().values_list("state").annotate(n=Count("id")):
        checks.add_metric([state], n)
    yield checks
    incidents = _gauge("zaplecze_storefront_open_incidents", "Open storefront incidents by kind.", ["kind"])
    for kind, n in (
        incident_model.objects.filter(state="open").order_by().values_list("kind").annotate(n=Count("id"))
    ):
        incidents.add_metric([kind], n)
    yield incidents


SECTIONS: dict[str, Callable[[], Iterable[Metric]]] = {
    "queue": _queue,
    "jobs": _jobs,
    "sync": _sync,
    "outbox": _outbox,
    "collector": _collector,
    "storefront": _storefront,
}


class OpsCollector:
    """Gauges computed at scrape; a failing section is skipped and marked down."""

    def collect(self) -> Iterable[Metric]:
        up = _gauge(
            "zaplecze_metrics_section_up", "1 when the section's figures could be computed.", ["section"]
        )
        took = _gauge(
            "zaplecze_metrics_section_seconds", "Time to compute the section at scrape.", ["section"]
        )
        for name, section in SECTIONS.items():
            started = time.perf_counter()
            try:
                metrics = list(section())
            except Exception as exc:
                log.warning("metrics section %s failed: %s", name, type(exc).__name__)
                log.debug("metrics section %s failed", name, exc_info=True)
                up.add_metric([name], 0)
            else:
                yield from metrics
                up.add_metric([name], 1)
            took.add_metric([name], time.perf_counter() - started)
        yield up
        yield took


class ProcessCollector:
    """The process-kept counters when not in multiprocess mode (a bare `manage.py` shell, say)."""

    def collect(self) -> Iterable[Metric]:
        for metric in (opsmetrics.REQUESTS, opsmetrics.REQUEST_SECONDS, opsmetrics.TASKS):
            yield from metric.collect()


def render() -> bytes:
    """The whole exposition, in Prometheus text format 0.0.4: the processes' counters (read under the
    directory's shared lock, so that a compaction never counts a file twice), then the scrape-time gauges."""
    kept = CollectorRegistry(auto_describe=False)
    path = opsmetrics.metrics_dir()
    if path:
        MultiProcessCollector(kept, path=path)
    else:
        kept.register(ProcessCollector())
    computed = CollectorRegistry(auto_describe=False)
    computed.register(OpsCollector())
    for attempt in range(2):
        try:
            with opsmetrics.dir_lock(shared=True):
                head = generate_latest(kept)
            break
        except FileNotFoundError:  # a file vanished between listing and reading; read again once
            if attempt:
                raise
    return head + generate_latest(computed)

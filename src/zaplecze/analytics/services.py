"""Analytics writes: sites, collecting events into the spool, flushing, compaction, retention, log import."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError
from zaplecze.core.models import User
from zaplecze.core.services import audit_record

from . import logs, pipeline, spool, visits, warehouse
from .models import DailySalt, Site

_DOMAIN = re.compile(
    r"^(?=.{1,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$"
)
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")


def _clean_domain(domain: str) -> str:
    value = (domain or "").strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    value = value.removeprefix("www.")
    if not _DOMAIN.match(value):
        raise DomainError(
            _("Domain %(value)r is not a host name like shop.example") % {"value": domain}, field="domain"
        )
    return value


def _clean_origins(text: str) -> str:
    lines = [o.strip().rstrip("/").lower() for o in (text or "").splitlines() if o.strip()]
    for n, origin in enumerate(lines, start=1):
        if not _ORIGIN.match(origin):
            raise DomainError(
                _("Allowed origins, line %(n)d: %(value)r is not an origin like https://shop.example")
                % {"n": n, "value": origin},
                field="allowed_origins",
            )
    return "\n".join(lines)


@transaction.atomic
def site_create(*, domain: str, name: str = "", allowed_origins: str = "", actor: User | None) -> Site:
    domain = _clean_domain(domain)
    if Site.objects.filter(domain=domain).exists():
        raise DomainError(
            _("Site %(domain)s already exists") % {"domain": domain}, field="domain", code="exists"
        )
    site = Site.objects.create(
        domain=domain, name=name.strip()[:200], allowed_origins=_clean_origins(allowed_origins)
    )
    audit_record(
        obj_type="analytics.site",
        obj_id=site.pk,
        action="create",
        actor=actor,
        changes={"domain": [None, domain]},
    )
    pipeline.sites_forget()
    return site


@transaction.atomic
def site_update(
    *, site_id: int, name: str, allowed_origins: str, is_active: bool, actor: User | None
) -> Site:
    site = Site.objects.select_for_update().get(pk=site_id)
    site.name = name.strip()[:200]
    site.allowed_origins = _clean_origins(allowed_origins)
    site.is_active = is_active
    site.save(update_fields=["name", "allowed_origins", "is_active"])
    audit_record(obj_type="analytics.site", obj_id=site.pk, action="update", actor=actor)
    pipeline.sites_forget()
    return site


def site_ensure(*, domain: str) -> str:
    """The tracked site for a log import: created when missing (logs name their site on the command line)."""
    domain = _clean_domain(domain)
    Site.objects.get_or_create(domain=domain)
    pipeline.sites_forget()
    return domain


# --- collecting ------------------------------------------------------------------------------------------


@dataclass
class CollectResult:
    accepted: int = 0
    errors: list = field(default_factory=list)  # [{"index", "step", "reason", "message"}]
    silent: int = 0  # dropped without an error (bots)

    @property
    def status(self) -> int:
        if self.errors and not self.accepted and not self.silent:
            return 400
        return 202


def collect(*, events: list, ip: str, user_agent: str, now: dt.datetime | None = None) -> CollectResult:
    """Run each event through the pipeline and append the results (and the drops) to the spool, fsynced.
    Raises OSError if the disk refuses; nothing is answered as accepted then."""
    now = now or dt.datetime.now(dt.UTC)
    result = CollectResult()
    lines: list[dict] = []
    for index, raw in enumerate(events):
        try:
            record = pipeline.run(raw, ip=ip, user_agent=user_agent, now=now)
        except pipeline.Drop as drop:
            site = ""
            if isinstance(raw, dict) and isinstance(raw.get("site"), str):
                site = raw["site"][:200] if pipeline.site_lookup(raw["site"][:200]) else ""
            lines.append(
                {"drop": drop.step, "reason": drop.reason, "site": site, "day": now.date().isoformat()}
            )
            if drop.status == 202:
                result.silent += 1
            else:
                result.errors.append(
                    {"index": index, "step": drop.step, "reason": drop.reason, "message": drop.message}
                )
            continue
        record["ts"] = int(record["ts"].timestamp() * 1_000_000)
        if record.get("value") is not None:
            record["value"] = str(record["value"])
        lines.append(record)
        result.accepted += 1
    spool.append(lines, now=now)
    return result


def drop_record(*, step: str, reason: str, now: dt.datetime | None = None) -> None:
    """Count a request refused before the pipeline (rate limit, body too big, bad JSON)."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        spool.append([{"drop": step, "reason": reason, "site": "", "day": now.date().isoformat()}], now=now)
    except OSError:
        pass


class RateLimiter:
    """A fixed-window counter per key, in this process (each worker process limits on its own)."""

    def __init__(self, limit: int, window: float):
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._started = time.monotonic()

    def allow(self, key: str, cost: int = 1) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._started >= self.window:
                self._counts.clear()
                self._started = now
            count = self._counts.get(key, 0) + cost
            self._counts[key] = count
            return count <= self.limit


_limiter: RateLimiter | None = None


def rate_limiter() -> RateLimiter:
    global _limiter
    limit = settings.ANALYTICS_RATE_LIMIT
    if _limiter is None or _limiter.limit != limit:
        _limiter = RateLimiter(limit, 60.0)
    return _limiter


# --- the worker's jobs --------------------------------------------------------------------------------


def spool_flush() -> dict:
    return warehouse.flush()


def warehouse_maintain(*, today: dt.date | None = None) -> dict:
    """Compact small files, apply the retention setting, forget old salts, export changed orders."""
    today = today or dt.datetime.now(dt.UTC).date()
    result = {
        "compacted": warehouse.compact(),
        "partitions_deleted": warehouse.retention_apply(
            keep_days=settings.ANALYTICS_RETENTION_DAYS, today=today
        ),
        "salts_deleted": DailySalt.objects.filter(day__lt=today - dt.timedelta(days=1)).delete()[0],
        "orders_exported": warehouse.orders_export(),
        # a backstop: visits of days changed without a flush (log imports) and files of settled months
        "visit_files": len(
            visits.ensure(today - dt.timedelta(days=settings.ANALYTICS_RETENTION_DAYS), today, today=today)
        ),
    }
    visits.sweep()
    pipeline.salts_forget()
    return result


def orders_export() -> int:
    return warehouse.orders_export()


def logs_import(*, paths: list[Path], site: str, fmt: str = "combined", progress=None) -> logs.ImportReport:
    domain = site_ensure(domain=site)
    try:
        return logs.import_logs(paths, site=domain, fmt=fmt, progress=progress)
    except logs.LogFormatError as exc:
        raise DomainError(str(exc), field="files")

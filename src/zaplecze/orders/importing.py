"""Order import from CSV files: the service behind `zaplecze import orders`, the upload screen and its
background job.

Every order goes through the one intake (`ingest_orders_batch`, i.e. `ingest_order` semantics), is
atomic on its own, and a bad row fails only its order: the import goes on and reports each problem
as {"line": physical CSV line, "field": column, "message": ...}."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from zaplecze.core.businesstime import tz
from zaplecze.core.errors import DomainError
from zaplecze.core.models import Job, User
from zaplecze.core.services import job_create, job_finish, job_progress, job_start

from .csvio.base import RowError
from .csvio.parse import FORMATS, OrderParser, ParsedOrder, detect_format, known_columns_score
from .csvio.reader import ImportFileError, open_csv
from .services import IngestResult, ingest_orders_batch

logger = logging.getLogger(__name__)

FORMAT_CHOICES = ("auto", *FORMATS)
BATCH_ORDERS = 500
MAX_ERRORS = 10_000
JOB_KIND = "orders.import"

__all__ = ["ImportFileError", "ImportReport", "import_orders", "import_job_create", "import_job_run"]


@dataclass
class ImportReport:
    """Counts per order (created/updated/unchanged/stale/failed) and the row errors of the failed ones."""

    file: str = ""
    format: str = ""
    encoding: str = ""
    delimiter: str = ""
    rows: int = 0
    orders: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    failed: int = 0
    duplicates: int = 0
    attention: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_omitted: int = 0

    def add_errors(self, errors: list[RowError]) -> None:
        for err in errors:
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(err.as_dict())
            else:
                self.errors_omitted += 1

    def as_json(self) -> dict[str, Any]:
        """The `--json` shape: created, updated, unchanged (older versions ignored count here), failed, errors."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged + self.stale,
            "failed": self.failed,
            "errors": list(self.errors),
        }

    def summary(self) -> dict[str, Any]:
        """Everything, for a job's result page."""
        return {
            "file": self.file,
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.rows,
            "orders": self.orders,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "stale": self.stale,
            "failed": self.failed,
            "duplicates": self.duplicates,
            "attention": self.attention,
            "errors_omitted": self.errors_omitted,
            "errors": list(self.errors),
        }

    def merge(self, other: ImportReport) -> None:
        for name in (
            "rows",
            "orders",
            "created",
            "updated",
            "unchanged",
            "stale",
            "failed",
            "duplicates",
            "attention",
            "errors_omitted",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


Progress = Callable[[int, int | None], None]


def _error_field(exc: DomainError, parser: OrderParser) -> str:
    if exc.field:
        return parser.fmt.column_for_field((exc.field,))
    return ""


def import_orders(
    *,
    path: str | os.PathLike | None = None,
    fileobj: BinaryIO | None = None,
    channel: str | None = None,
    fmt: str = "auto",
    actor: User | None = None,
    progress: Progress | None = None,
    source: str = "csv",
    name: str = "",
) -> ImportReport:
    """Import the orders of one CSV file (Zaplecze, Shopify or WooCommerce format; `fmt="auto"` detects it).

    `channel` sets the channel for formats without one and overrides the file's channel column.
    `progress(lines_done, lines_total)` is called after each batch of orders. Raises ImportFileError when
    the file cannot be read at all (nothing imported); otherwise returns the report."""
    if fmt not in FORMAT_CHOICES:
        raise ImportFileError(
            _("Unknown format %(fmt)s; choose one of %(choices)s")
            % {"fmt": fmt, "choices": ", ".join(FORMAT_CHOICES)},
            field="format",
        )
    if channel is not None:
        channel = channel.strip() or None
    source_csv = open_csv(
        path=path,
        fileobj=fileobj,
        known_columns=known_columns_score,
        count_lines=progress is not None,
        name=name,
    )
    try:
        with _bulk_load_settings():
            fmt_class = detect_format(source_csv.header, fmt)
            parser = OrderParser(source_csv, fmt_class, channel=channel, tz=tz())
            report = ImportReport(
                file=source_csv.name,
                format=fmt_class.name,
                encoding=source_csv.encoding,
                delimiter=source_csv.delimiter,
            )
            pending: list[ParsedOrder] = []

            def flush() -> None:
                if not pending:
                    return
                results = ingest_orders_batch(
                    [p.data for p in pending if p.data is not None], actor=actor, source=source
                )
                for parsed, result in zip(pending, results, strict=True):
                    _count(report, parsed, result, parser)
                pending.clear()
                if progress:
                    progress(source_csv.line_no, source_csv.total_lines)

            for parsed in parser:
                report.orders += 1
                report.duplicates += parsed.duplicates
                if parsed.errors or parsed.data is None:
                    report.failed += 1
                    report.add_errors(parsed.errors)
                    continue
                pending.append(parsed)
                if len(pending) >= BATCH_ORDERS:
                    flush()
            flush()
            report.rows = parser.rows_read
            report.encoding = source_csv.detected_encoding
            if progress:
                progress(source_csv.line_no, source_csv.line_no)
            return report
    finally:
        source_csv.close()


@contextmanager
def _bulk_load_settings():
    """While bulk-loading into SQLite: a bigger page cache for this connection (index pages of the order,
    token and event tables stay in memory) and fewer, larger WAL checkpoints (otherwise every batch's
    commit triggers one). Both are per-connection settings and are put back afterwards."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache_size = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size = -65536")
        cursor.execute("PRAGMA wal_autocheckpoint = 16384")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {cache_size}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {checkpoint}")


def _count(
    report: ImportReport, parsed: ParsedOrder, result: IngestResult | DomainError, parser: OrderParser
) -> None:
    if isinstance(result, DomainError):
        report.failed += 1
        report.add_errors([RowError(parsed.first_line, _error_field(result, parser), str(result.message))])
        return
    outcome = result.outcome
    if outcome == "created":
        report.created += 1
    elif outcome == "updated":
        report.updated += 1
    elif outcome == "stale":
        report.stale += 1
    else:
        report.unchanged += 1
    if result.attention and outcome in ("created", "updated"):
        report.attention += 1


# --- background job ---------------------------------------------------------------------------------


def _uploads_dir() -> Path:
    path = Path(settings.DATA_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "upload.csv").name)[:80].strip("._") or "upload.csv"
    return base


def import_job_create(*, upload, channel: str | None, fmt: str, actor: User) -> Job:
    """Store an uploaded file under DATA_DIR/uploads, create its import Job and queue the worker task
    after commit. `upload` is a Django UploadedFile (or anything with .name and .chunks())."""
    if fmt not in FORMAT_CHOICES:
        raise DomainError(_("Unknown format %(fmt)s") % {"fmt": fmt}, field="format")
    name = getattr(upload, "name", "") or "upload.csv"
    target = _uploads_dir() / f"{uuid.uuid4().hex}-{_safe_name(name)}"
    with open(target, "wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    with transaction.atomic():
        job = job_create(
            kind=JOB_KIND,
            title=_("Order import: %(name)s") % {"name": Path(name).name[:150]},
            owner=actor,
            params={"path": str(target), "name": Path(name).name, "channel": channel or "", "format": fmt},
        )
        from .tasks import import_orders_task

        transaction.on_commit(lambda: import_orders_task(job.pk))
    return job


def import_job_run(*, job_id: int, final_attempt: bool = True) -> None:
    """Run an import Job (idempotent: a finished job is left alone; re-running an import is an upsert).
    An unexpected error is re-raised for the queue to retry; on the final attempt the job is marked failed."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.state in (Job.State.DONE, Job.State.FAILED):
        return
    params = job.params or {}
    path = Path(params.get("path", ""))
    job_start(job_id=job_id)
    step = {"last": 0}

    def progress(done: int, total: int | None) -> None:
        if done - step["last"] >= 500 or (total is not None and done >= total):
            step["last"] = done
            job_progress(job_id=job_id, done=done, total=total)

    try:
        report = import_orders(
            path=path,
            channel=params.get("channel") or None,
            fmt=params.get("format") or "auto",
            actor=job.owner,
            progress=progress,
            source="csv-upload",
            name=params.get("name") or path.name,
        )
    except ImportFileError as exc:
        job_finish(job_id=job_id, error=str(exc.message))
        path.unlink(missing_ok=True)
        return
    except Exception as exc:
        logger.exception("order import job %s failed", job_id)
        if final_attempt:
            job_finish(
                job_id=job_id,
                error=_("The import stopped with an internal error: %(error)s") % {"error": exc},
            )
        raise
    job_finish(job_id=job_id, result=report.summary())
    path.unlink(missing_ok=True)

"""Order export from the UI as a background job: the current queue filter written to CSV or XLSX by the
worker, with progress on the jobs page and a download link when done.

Small exports (at most SYNC_LIMIT orders) are still answered at once by the view; anything bigger becomes
a `core.Job` of kind "orders.export" whose file is kept in the default storage under `exports/orders/`.
The CLI (`zaplecze orders export`) and the API call `csvio.export.export_orders` directly, as before."""

from __future__ import annotations

import logging
import tempfile

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError
from zaplecze.core.models import Job, User
from zaplecze.core.services import job_create, job_finish, job_progress, job_start

from . import selectors

log = logging.getLogger("zaplecze.orders")

KIND = "orders.export"
SYNC_LIMIT = 2000  # up to this many orders the view writes the file inside the request
FORMATS = ("csv", "xlsx")
PREFIX = "exports/orders/"


def export_job_create(*, params: dict, fmt: str, actor: User, total: int | None = None) -> int:
    """Queue an export of the orders matching the queue filter `params` (as the queue's query string gives
    them) for after the commit; returns the job id. Bad filter values raise DomainError naming them."""
    if fmt not in FORMATS:
        raise DomainError(_("Choose the format csv or xlsx."), field="fmt")
    f = selectors.OrderFilter.from_params(params)
    with transaction.atomic():
        job = job_create(
            kind=KIND,
            title=_("Order export (%(fmt)s)") % {"fmt": fmt.upper()},
            owner=actor,
            params={"filter": f.as_params(), "fmt": fmt},
            total=total,
        )
        from .tasks import export_orders_task

        transaction.on_commit(lambda: export_orders_task(job.pk))
    return job.pk


def export_job_run(*, job_id: int, final_attempt: bool = True) -> None:
    """Write the export file of a job (idempotent: a finished job is left alone; a retry writes it anew)."""
    from .csvio.export import export_orders

    job = Job.objects.filter(pk=job_id, kind=KIND).first()
    if job is None or job.state in (Job.State.DONE, Job.State.FAILED):
        return
    params = job.params or {}
    fmt = params.get("fmt", "csv")
    try:
        f = selectors.OrderFilter.from_params(params.get("filter") or {})
    except DomainError as exc:
        job_finish(job_id=job_id, error=str(exc.message))
        return
    queryset = selectors.orders_filtered(f)
    total = queryset.count()
    job_start(job_id=job_id, total=total)
    try:
        with tempfile.TemporaryFile(suffix=f".{fmt}") as out:
            n = export_orders(
                queryset, fmt, out, progress=lambda done: job_progress(job_id=job_id, done=done, total=total)
            )
            out.seek(0)
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            name = default_storage.save(f"{PREFIX}{job_id}-{stamp}.{fmt}", File(out))
    except Exception as exc:
        log.exception("order export job %s failed", job_id)
        if final_attempt:
            job_finish(
                job_id=job_id,
                error=_("The export stopped with an internal error: %(error)s") % {"error": exc},
            )
        raise
    job_progress(job_id=job_id, done=n, total=total)
    job_finish(job_id=job_id, result={"orders": n, "format": fmt, "file": name})


def export_file(job: Job) -> tuple[str, str] | None:
    """(storage name, download file name) of a finished export job's file, or None if there is none."""
    name = (job.result or {}).get("file") or ""
    if job.kind != KIND or job.state != Job.State.DONE or not name.startswith(PREFIX):
        return None
    if not default_storage.exists(name):
        return None
    fmt = (job.params or {}).get("fmt", "csv")
    stamp = timezone.localtime(job.finished_at or job.created_at).strftime("%Y%m%d-%H%M")
    return name, f"orders-{stamp}.{fmt}"

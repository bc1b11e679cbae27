"""Bulk: shipments and labels for many orders, one merged PDF, per-order errors, progress in a core Job."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from zaplecze.core.models import Job
from zaplecze.shipping import pdfmerge, services
from zaplecze.shipping.models import Shipment

pytestmark = pytest.mark.usefixtures("media")


def test_bulk_creates_labels_merges_them_and_lists_errors_without_stopping(shipx, order_factory, admin_user):
    good1 = order_factory()
    bad = order_factory(pickup_point="XXX000")  # ShipX refuses the locker
    good2 = order_factory()
    seen = []
    report = services.shipments_bulk_create(
        order_ids=[good1.pk, bad.pk, good2.pk],
        actor=admin_user,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (report.created, report.labels, report.failed) == (3, 2, 1)
    assert report.errors[0]["line"] == bad.number
    assert "does_not_exist" in report.errors[0]["message"]
    assert seen[-1] == (3, 3)
    with default_storage.open(report.labels_file, "rb") as fh:
        merged = fh.read()
    assert pdfmerge.page_count(merged) == 2
    # running the same batch again ships nothing twice
    again = services.shipments_bulk_create(order_ids=[good1.pk, bad.pk, good2.pk], actor=admin_user)
    assert (again.created, again.reused, again.labels, again.failed) == (0, 3, 2, 1)
    assert len(shipx.shipments) == 2  # the refused one is asked again, and refused again
    assert Shipment.objects.count() == 3


def test_bulk_waits_for_labels_that_the_carrier_prepares_later(shipx, order_factory, admin_user):
    shipx.confirm_after_gets = 2
    orders = [order_factory(), order_factory()]
    report = services.shipments_bulk_create(
        order_ids=[o.pk for o in orders], actor=admin_user, poll_interval=0.01
    )
    assert (report.created, report.labels, report.failed) == (2, 2, 0)


def test_bulk_gives_up_waiting_and_says_so(shipx, order_factory, admin_user):
    shipx.confirm_after_gets = 99
    order = order_factory()
    report = services.shipments_bulk_create(
        order_ids=[order.pk], actor=admin_user, label_wait_seconds=0, poll_interval=0.01
    )
    assert (report.labels, report.failed) == (0, 1)
    assert report.errors == [
        {
            "line": order.number,
            "field": "label",
            "message": "InPost is still preparing the shipment (status created)",
        }
    ]
    assert report.labels_file == ""


def test_bulk_job_reports_progress_and_the_merged_file(
    shipx, order_factory, admin_user, django_capture_on_commit_callbacks
):
    orders = [order_factory(), order_factory(delivery_method="dpd", pickup_point="")]
    with django_capture_on_commit_callbacks(execute=True):
        job_id = services.bulk_labels_job_create(order_ids=[o.pk for o in orders], actor=admin_user)
    job = Job.objects.get(pk=job_id)
    assert job.state == Job.State.DONE
    assert (job.progress_done, job.progress_total) == (2, 2)
    assert job.result["created"] == 2 and job.result["labels"] == 1 and job.result["failed"] == 0
    assert default_storage.exists(job.result["labels_file"])

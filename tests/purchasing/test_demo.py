"""seed_demo() on a small demo shop: suppliers, items, computed reorder points, POs (one overdue)."""

from __future__ import annotations

from zaplecze.core.businesstime import local_today
from zaplecze.purchasing import selectors
from zaplecze.purchasing.demo import seed_demo
from zaplecze.purchasing.models import POStatus, PurchaseOrder, ReorderParameter, Supplier, SupplierItem


def test_the_demo_shop_seeds_purchasing_and_the_forecast_job(db, django_capture_on_commit_callbacks):
    from zaplecze.catalog.models import Variant
    from zaplecze.core.models import Job
    from zaplecze.demo import build_demo

    with django_capture_on_commit_callbacks(execute=True):
        stats = build_demo(orders=150, days=60, seed=5, queue_forecast=True)["purchasing"]
    assert stats["suppliers"] == 4 and stats["purchase_orders"] == 4
    # The forecast ran as a job (the worker runs it inline in tests).
    assert Job.objects.get(kind="purchasing.forecast").state == "done"
    assert SupplierItem.objects.count() == Variant.objects.filter(active=True).count()
    assert all(len(s.nip) in (0, 10) for s in Supplier.objects.all())
    assert ReorderParameter.objects.exclude(method="").count() > 0
    assert ReorderParameter.objects.filter(method__in=["holt_winters", "ses", "mean"]).exists()
    statuses = sorted(PurchaseOrder.objects.values_list("status", flat=True))
    assert statuses == sorted([POStatus.SENT, POStatus.PARTIAL, POStatus.RECEIVED, POStatus.DRAFT])
    [overdue] = selectors.overdue_purchase_orders(today=local_today())
    assert overdue.status == POStatus.SENT
    assert seed_demo() == {"suppliers": 0, "items": 0, "purchase_orders": 0}  # second call: nothing

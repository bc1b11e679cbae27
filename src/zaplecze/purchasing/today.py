"""Exceptions of purchasing for the Today page (see `core/today.py`).

* stock-out risk: a variant whose available stock plus what is on order has fallen to its reorder point in
  some warehouse (the reorder point covers the demand over the supplier's lead time plus safety stock, so
  below it the shelf empties before a new delivery can arrive). Checked again for the variants whose stock
  just changed ("inventory.stock_changed") and every 30 minutes for all;
* purchase order overdue: a sent or partly received PO past its expected delivery date.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import extensions, today
from zaplecze.core.businesstime import local_date, tz

from .models import OPEN_STATUSES, PurchaseOrder, ReorderParameter
from .selectors import available, on_order


def detect_stock_risk(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    params = ReorderParameter.objects.filter(reorder_point__gt=0)
    if ids is not None:
        params = params.filter(variant_id__in=ids)
    rows = list(
        params.values_list(
            "variant_id", "warehouse_id", "reorder_point", "lead_time_days", "variant__sku", "warehouse__code"
        )
    )
    variant_ids = {r[0] for r in rows}
    avail, ordered = available(variant_ids), on_order(variant_ids)
    risky: dict[int, list[tuple]] = defaultdict(list)
    for vid, wid, rop, lead, sku, wh in rows:
        a, o = avail.get((vid, wid), 0), ordered.get((vid, wid), 0)
        if a + o <= rop:
            risky[vid].append((a, o, rop, lead, sku, wh or ""))
    for vid, found in risky.items():
        a, o, rop, lead, sku, wh = min(found, key=lambda f: f[0] + f[1] - f[2])
        yield today.Found(
            subject_id=vid,
            label=(gettext_noop("SKU %(sku)s"), {"sku": sku}),
            why=(
                gettext_noop(
                    "%(available)s available and %(on_order)s on order%(where)s, at or below the reorder point "
                    "%(rop)s (lead time %(lead)s working days)."
                ),
                {"available": a, "on_order": o, "where": f" ({wh})" if wh else "", "rop": rop, "lead": lead},
            ),
            url=reverse("purchasing:reorder") + "?" + urlencode({"q": sku}),
            due_at=now,
            severity="critical" if a <= 0 else "high",
        )


def detect_po_overdue(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = PurchaseOrder.objects.filter(status__in=OPEN_STATUSES, expected_date__lt=local_date(now))
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for pk, number, expected, supplier in qs.values_list("pk", "number", "expected_date", "supplier__name"):
        yield today.Found(
            subject_id=pk,
            label=(
                gettext_noop("Purchase order %(number)s (%(supplier)s)"),
                {"number": number, "supplier": supplier},
            ),
            why=(gettext_noop("Expected on %(day)s and not fully received."), {"day": expected.isoformat()}),
            url=reverse("purchasing:po", args=[pk]),
            due_at=dt.datetime.combine(expected, dt.time(16, 0), tzinfo=tz()),
        )


today.register(
    today.Kind(
        code="purchasing.stock_risk",
        area="stock",
        label=_("Stock-out within the lead time"),
        subject_type="variant",
        detect=detect_stock_risk,
        severity="high",
        permission="purchasing.view",
        every_minutes=30,
    )
)
today.register(
    today.Kind(
        code="purchasing.po_overdue",
        area="stock",
        label=_("Purchase order overdue"),
        subject_type="purchase_order",
        detect=detect_po_overdue,
        permission="purchasing.view",
        every_minutes=60,
    )
)
extensions.register("inventory.stock_changed", "today.stock_risk", lambda ids: today.touch("variant", ids))

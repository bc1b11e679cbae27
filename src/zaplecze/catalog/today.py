"""Exceptions of the catalog for the Today page (see `core/today.py`), one per feed or rule rather than one
per product (a thousand products without an image are one job, not a thousand):

* feed exclusions: an active feed leaving products out (missing GTIN, image, price…), or whose last build
  failed;
* catalog audit errors: products with findings of severity *error* under an audit rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import urlencode

from django.db.models import Count, Min
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from zaplecze.core import today

from .models import AuditFinding, Feed


def detect_feeds(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    qs = Feed.objects.filter(active=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    for f in qs:
        if f.error:
            why = (gettext_noop("The last build failed: %(error)s"), {"error": f.error[:200]})
            severity = "high"
        elif f.excluded:
            why = (
                gettext_noop("%(excluded)s of %(total)s products are left out of the feed."),
                {"excluded": f.excluded, "total": f.items + f.excluded},
            )
            severity = "normal" if f.excluded < max(1, (f.items + f.excluded) // 10) else "high"
        else:
            continue
        yield today.Found(
            subject_id=f.pk,
            label=(gettext_noop("Feed %(name)s"), {"name": f.name}),
            why=why,
            url=reverse("catalog:feed", args=[f.pk]),
            due_at=(f.built_at or now) + dt.timedelta(days=1),
            severity=severity,
        )


def _rule_id(rule: str) -> int:
    """A stable number for an audit rule code (exceptions are about an id)."""
    import zlib

    return zlib.crc32(rule.encode()) & 0x7FFFFFFF


def detect_audit(*, now: dt.datetime, ids: list[int] | None = None) -> Iterable[today.Found]:
    rows = (
        AuditFinding.objects.filter(severity="error")
        .values("rule")
        .annotate(products=Count("product_id", distinct=True), since=Min("found_at"))
        .order_by()
    )
    for r in rows:
        sid = _rule_id(r["rule"])
        if ids is not None and sid not in ids:
            continue
        yield today.Found(
            subject_id=sid,
            label=(gettext_noop("Audit rule %(rule)s"), {"rule": r["rule"]}),
            why=(gettext_noop("%(n)s products break this rule."), {"n": r["products"]}),
            url=reverse("catalog:audit") + "?" + urlencode({"rule": r["rule"], "severity": "error"}),
            due_at=r["since"] + dt.timedelta(days=3),
            data={"rule": r["rule"], "products": r["products"]},
        )


today.register(
    today.Kind(
        code="catalog.feed",
        area="catalog",
        label=_("Products left out of a feed"),
        subject_type="feed",
        detect=detect_feeds,
        owner_role="marketing",
        permission="catalog.view",
        every_minutes=15,
    )
)
today.register(
    today.Kind(
        code="catalog.audit_errors",
        area="catalog",
        label=_("Catalog audit errors"),
        subject_type="audit_rule",
        detect=detect_audit,
        severity="low",
        owner_role="marketing",
        permission="catalog.view",
        every_minutes=15,
    )
)

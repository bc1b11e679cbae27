"""A raw bulk loader that leaves out `discount_codes` (benchmarks, migrations of old data) still gets []."""

from __future__ import annotations

import pytest
from django.db import connection

from zaplecze.orders.models import Order

pytestmark = pytest.mark.django_db


def test_the_database_fills_in_an_empty_list(ingest, product_factory):
    product_factory(sku="SKU-0001", stock=10)
    template = ingest().order
    cols = [
        f.column
        for f in Order._meta.concrete_fields
        if f.column not in ("id", "discount_codes", "external_id")
    ]
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {qn(Order._meta.db_table)} ({', '.join(qn(c) for c in cols)}, {qn('external_id')}) "  # noqa: S608
            f"SELECT {', '.join(qn(c) for c in cols)}, 'raw-1' FROM {qn(Order._meta.db_table)} WHERE id = %s",
            [template.pk],
        )
    assert Order.objects.get(external_id="raw-1").discount_codes == []

"""The movement ledger: filters, keyset pagination and the CSV export."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict

from zaplecze.inventory import selectors
from zaplecze.inventory.models import StockMovement
from zaplecze.inventory.services import stock_adjust

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(product_factory, main_wh, second_wh, admin_user):
    a = product_factory(sku="KUB-01", stock=10, ean="5901234123457")  # receipt "test stock"
    b = product_factory(sku="TAL-01", stock=5)
    stock_adjust(
        variant=a,
        warehouse=main_wh,
        delta=-2,
        reason="Broken in storage",
        reference="DMG-1",
        actor=admin_user,
    )
    stock_adjust(variant=b, warehouse=second_wh, delta=3, kind="receipt", reason="delivery", reference="PO-7")
    old = stock_adjust(
        variant=b, warehouse=main_wh, delta=1, kind="return", reason="return", reference="RMA-1"
    )
    StockMovement.objects.filter(pk=old.pk).update(at=dt.datetime(2026, 1, 10, 23, 30, tzinfo=dt.UTC))
    return a, b


def _skus(f) -> list[tuple[str, str]]:
    return [(m.variant.sku, m.kind) for m in selectors.movements_filtered(f).order_by("id")]


def test_filters(ledger, admin_user):
    f = selectors.MovementFilter.from_params
    assert _skus(f(QueryDict("kind=adjustment"))) == [("KUB-01", "adjustment")]
    assert _skus(f(QueryDict("kind=return&kind=adjustment"))) == [
        ("KUB-01", "adjustment"),
        ("TAL-01", "return"),
    ]
    assert _skus(f(QueryDict("reason=broken"))) == [("KUB-01", "adjustment")]
    assert _skus(f(QueryDict("reference=PO"))) == [("TAL-01", "receipt")]
    assert _skus(f(QueryDict("user=admin"))) == [("KUB-01", "adjustment")]
    assert len(_skus(f(QueryDict("user=system")))) == 4
    assert _skus(f(QueryDict("warehouse=ful"))) == [("TAL-01", "receipt")]
    assert _skus(f(QueryDict("sku=5901234123457"))) == [("KUB-01", "receipt"), ("KUB-01", "adjustment")]
    # 2026-01-10 23:30 UTC is already 11 January in Warsaw
    assert _skus(f(QueryDict("date_from=2026-01-11&date_to=2026-01-11"))) == [("TAL-01", "return")]
    assert _skus(f(QueryDict("date_to=2026-01-10"))) == []
    assert _skus(f(QueryDict("kind=bogus"))) == _skus(f(QueryDict("")))


def test_keyset_pages_cover_everything_once(ledger):
    f = selectors.MovementFilter.from_params(QueryDict(""))
    seen, cursor = [], None
    while True:
        page = selectors.movement_page(f, cursor=cursor, limit=2)
        seen += [m.pk for m in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == list(StockMovement.objects.order_by("-at", "-id").values_list("pk", flat=True))
    assert len(seen) == 5


def test_csv_export_of_the_filtered_ledger(ledger, admin_client):
    response = admin_client.get("/stock/ledger.csv?reference=DMG")
    body = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert response.status_code == 200
    assert body[0] == "at;sku;name;warehouse;kind;quantity;on_hand_after;reason;reference;user"
    assert len(body) == 2
    assert body[1].split(";")[1:] == [
        "KUB-01",
        "Product KUB-01",
        "MAIN",
        "adjustment",
        "-2",
        "8",
        "Broken in storage",
        "DMG-1",
        "admin",
    ]


def test_ledger_page_filters_and_pages(ledger, admin_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = admin_client.get("/stock/ledger/?warehouse=MAIN")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("data-movement=") == 4
    assert "DMG-1" in html and "PO-7" not in html

"""The stock screens through the test client: levels with bins, stocktake scanning and import, posting,
transfers, bins, warehouses and the stock import page. Permissions: counting needs stock.count, posting
stock.adjust."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from zaplecze.inventory import services
from zaplecze.inventory.models import StockLevel, StockMovement, Stocktake, StocktakeLine, Transfer

from .conftest import csv_bytes, level

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_role(client, make_user):
    def _login(role):
        client.force_login(make_user(role))
        return client

    return _login


def test_stock_list_shows_and_filters_by_bin(
    admin_client, product_factory, main_wh, django_assert_max_num_queries
):
    a = product_factory(sku="KUB-01", stock=3)
    product_factory(sku="KUB-02", stock=3)
    shelf = services.location_create(warehouse=main_wh, code="A-01")
    services.stock_level_set_location(variant=a, warehouse=main_wh, location=shelf)

    with django_assert_max_num_queries(12):
        html = admin_client.get("/stock/?warehouse=MAIN&bin=A-01").content.decode()

    assert "KUB-01" in html and "KUB-02" not in html
    assert "<td data-bin>A-01</td>" in html


def test_assign_a_bin_on_the_level_page(admin_client, product_factory, main_wh):
    a = product_factory(sku="KUB-01", stock=3)
    shelf = services.location_create(warehouse=main_wh, code="A-01")
    lv = StockLevel.objects.get(variant=a)

    page = admin_client.get(f"/stock/{lv.pk}/").content.decode()
    assert f'action="/stock/levels/{lv.pk}/bin/"' in page
    response = admin_client.post(f"/stock/levels/{lv.pk}/bin/", {"location": shelf.pk})

    assert response.status_code == 302
    assert StockLevel.objects.get(pk=lv.pk).location == shelf
    admin_client.post(f"/stock/levels/{lv.pk}/bin/", {"location": ""})
    assert StockLevel.objects.get(pk=lv.pk).location is None


def test_stocktake_from_screen_scan_to_posting(as_role, product_factory, main_wh, make_user):
    a = product_factory(sku="KUB-01", stock=10, ean="5901234123457")
    client = as_role("warehouse")
    response = client.post("/stock/counts/new/", {"warehouse": main_wh.pk, "start": "1"})
    st = Stocktake.objects.get()
    assert response["Location"] == f"/stock/counts/{st.pk}/"
    assert st.status == "counting"

    # a keyboard wedge types the EAN and Enter, three times; htmx swaps the scan panel
    for _ in range(3):
        r = client.post(f"/stock/counts/{st.pk}/count/", {"code": "5901234123457"}, HTTP_HX_REQUEST="true")
    assert (
        'data-scan-result="ok"' in r.content.decode()
        and "<strong data-counted>3</strong>" in r.content.decode()
    )
    r = client.post(f"/stock/counts/{st.pk}/count/", {"code": "2*KUB-01"}, HTTP_HX_REQUEST="true")
    assert "<strong data-counted>5</strong>" in r.content.decode()
    r = client.post(f"/stock/counts/{st.pk}/count/", {"code": "NOPE"}, HTTP_HX_REQUEST="true")
    assert 'data-scan-result="error"' in r.content.decode()

    client.post(f"/stock/counts/{st.pk}/status/", {"to": "review"})
    page = client.get(f"/stock/counts/{st.pk}/").content.decode()
    assert 'data-line="KUB-01"' in page
    assert '<td class="num down" data-difference>-5</td>' in page

    # the warehouse role posts too (stock.adjust); a read-only user may only look
    readonly = make_user("readonly", "ro")
    client.force_login(readonly)
    assert client.post(f"/stock/counts/{st.pk}/post/").status_code == 403
    assert client.get(f"/stock/counts/{st.pk}/").status_code == 200
    client.force_login(make_user("warehouse", "wh2"))
    client.post(f"/stock/counts/{st.pk}/post/")
    assert level(a, main_wh) == (5, 0)
    assert Stocktake.objects.get().status == "posted"


def test_count_sheet_import_with_errors_lists_them_and_records_nothing(
    admin_client, product_factory, main_wh
):
    product_factory(sku="KUB-01", stock=10)
    st = services.stocktake_create(warehouse=main_wh)
    services.stocktake_transition(stocktake_id=st.pk, to="counting")
    upload = SimpleUploadedFile(
        "count.csv", csv_bytes("sku;quantity\nKUB-01;x\nNOPE;1"), content_type="text/csv"
    )

    response = admin_client.post(f"/stock/counts/{st.pk}/import/", {"file": upload})

    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-row-error="2"' in html and 'data-row-error="3"' in html
    assert "nothing was applied" in html
    assert StocktakeLine.objects.filter(counted__isnull=False).count() == 0


def test_blank_count_sheets_download(admin_client, product_factory, main_wh):
    product_factory(sku="KUB-01", stock=10)
    st = services.stocktake_create(warehouse=main_wh)
    services.stocktake_transition(stocktake_id=st.pk, to="counting")

    csv_response = admin_client.get(f"/stock/counts/{st.pk}/sheet.csv")
    xlsx_response = admin_client.get(f"/stock/counts/{st.pk}/sheet.xlsx")

    assert csv_response.content.decode("utf-8-sig").splitlines() == [
        "sku;ean;name;location;quantity",
        "KUB-01;;Product KUB-01;;",
    ]
    assert xlsx_response.content[:4] == b"PK\x03\x04"
    assert f"{st.number}-count-sheet.xlsx" in xlsx_response["Content-Disposition"]


def test_transfer_screen_moves_now_or_reports_shortage(admin_client, product_factory, main_wh, second_wh):
    a = product_factory(sku="KUB-01", stock=5)
    data = {"source": main_wh.pk, "destination": second_wh.pk, "lines": "KUB-01 9", "action": "now"}

    short = admin_client.post("/stock/transfers/new/", data)
    assert short.status_code == 400
    assert "only 5 available in MAIN" in short.content.decode()
    assert Transfer.objects.count() == 0

    ok = admin_client.post("/stock/transfers/new/", {**data, "lines": "KUB-01 2\nKUB-01 1"})
    t = Transfer.objects.get()
    assert ok["Location"] == f"/stock/transfers/{t.pk}/"
    assert level(a, main_wh) == (2, 0) and level(a, second_wh) == (3, 0)
    page = admin_client.get(f"/stock/transfers/{t.pk}/").content.decode()
    assert page.count("data-movement") == 2


def test_bins_and_warehouses_screens(admin_client, main_wh):
    assert (
        admin_client.post("/stock/warehouses/create/", {"code": "ful", "name": "Fulfilment"}).status_code
        == 302
    )
    assert admin_client.post("/stock/warehouses/create/", {"code": "FUL", "name": "x"}).status_code == 400
    r = admin_client.post(f"/stock/warehouses/{main_wh.pk}/bins/create/", {"code": "a-1", "sort_order": "3"})
    assert r.status_code == 302
    html = admin_client.get(f"/stock/warehouses/{main_wh.pk}/bins/").content.decode()
    assert 'data-bin="A-1"' in html
    assert 'data-warehouse="FUL"' in admin_client.get("/stock/warehouses/").content.decode()


def test_stock_import_page_checks_then_applies(admin_client, product_factory, main_wh):
    a = product_factory(sku="KUB-01", stock=10)

    def upload():
        return SimpleUploadedFile("s.csv", csv_bytes("sku,quantity\nKUB-01,4"), content_type="text/csv")

    check = admin_client.post(
        "/stock/import/", {"warehouse": main_wh.pk, "mode": "set", "file": upload(), "apply": "0"}
    )
    assert check.status_code == 200 and "data-preview" in check.content.decode()
    assert level(a, main_wh) == (10, 0)
    applied = admin_client.post(
        "/stock/import/", {"warehouse": main_wh.pk, "mode": "set", "file": upload(), "apply": "1"}
    )
    assert applied.status_code == 302 and "/stock/ledger/?reference=import-" in applied["Location"]
    assert level(a, main_wh) == (4, 0)
    assert StockMovement.objects.filter(kind="adjustment").count() == 1

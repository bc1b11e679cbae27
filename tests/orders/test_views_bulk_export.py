"""Bulk status change and bulk tags on the queue selection; export of the current filter."""

from __future__ import annotations

import csv
import io
import zipfile

from django.urls import reverse

from zaplecze.orders.models import Order, OrderEvent

BULK = reverse("orders:bulk")
EXPORT = reverse("orders:export")


def place(ingest, n: int, **overrides) -> Order:
    data = {"external_id": f"B{n}", "number": f"B-{n}", "email": f"b{n}@example.com"}
    data.update(overrides)
    return ingest(**data).order


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_bulk_status_change_reports_each_failure(admin_client, ingest):
    a = place(ingest, 1)
    b = place(ingest, 2)
    shipped = place(ingest, 3, stage="shipped")
    response = admin_client.post(
        BULK,
        {
            "ids": [a.pk, b.pk, shipped.pk],
            "action": "status",
            "status": "picking",
            "next": "/orders/?channel=shop",
        },
        follow=True,
    )
    assert response.redirect_chain == [("/orders/?channel=shop", 302)]
    assert messages_of(response) == [
        "2 orders moved to “Picking”.",
        "1 order was not changed:",
        "Order B-3 cannot go from “Shipped” (Shipped) to “Picking” (In fulfilment).",
    ]
    assert set(Order.objects.values_list("number", "status__code")) == {
        ("B-1", "picking"),
        ("B-2", "picking"),
        ("B-3", "shipped"),
    }
    assert OrderEvent.objects.filter(kind="status", to_status="picking").count() == 2


def test_bulk_tag_add_and_remove(admin_client, ingest):
    a, b = place(ingest, 1), place(ingest, 2)
    response = admin_client.post(BULK, {"ids": [a.pk, b.pk], "action": "tag_add", "tag": "VIP"}, follow=True)
    assert messages_of(response) == ["Tag “VIP” added to 2 orders."]
    assert sorted(Order.objects.filter(tags__name="VIP").values_list("number", flat=True)) == ["B-1", "B-2"]
    response = admin_client.post(BULK, {"ids": [a.pk], "action": "tag_remove", "tag": "VIP"}, follow=True)
    assert messages_of(response) == ["Tag “VIP” removed from 1 order."]
    assert list(Order.objects.filter(tags__name="VIP").values_list("number", flat=True)) == ["B-2"]
    assert OrderEvent.objects.filter(kind="tag_removed", order=a, message="VIP").count() == 1


def test_bulk_needs_a_selection_and_a_tag(admin_client, ingest):
    a = place(ingest, 1)
    response = admin_client.post(BULK, {"action": "status", "status": "picking"}, follow=True)
    assert messages_of(response) == ["Select at least one order first."]
    response = admin_client.post(BULK, {"ids": [a.pk], "action": "tag_add", "tag": "  "}, follow=True)
    assert messages_of(response) == ["Give a tag to add or remove"]
    response = admin_client.post(BULK, {"ids": [a.pk], "action": "status", "status": "nope"}, follow=True)
    assert messages_of(response) == ["Choose the status to set."]
    assert admin_client.post(BULK, {"ids": ["x"], "action": "status"}).status_code == 400
    assert admin_client.post(BULK, {"ids": [a.pk], "action": "delete"}).status_code == 400
    assert Order.objects.get(pk=a.pk).status.code == "ready"


def test_bulk_refuses_get_and_foreign_redirects(admin_client, ingest):
    a = place(ingest, 1)
    assert admin_client.get(BULK).status_code == 405
    response = admin_client.post(
        BULK, {"ids": [a.pk], "action": "tag_add", "tag": "x", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/orders/"


def test_bulk_denied_without_permission_changes_nothing(client, make_user, ingest):
    a = place(ingest, 1)
    client.force_login(make_user("warehouse"))
    response = client.post(BULK, {"ids": [a.pk], "action": "status", "status": "picking"})
    assert response.status_code == 403
    assert Order.objects.get(pk=a.pk).status.code == "ready"
    assert not OrderEvent.objects.filter(kind="status").exists()


def test_bulk_anonymous_goes_to_login(client, ingest):
    a = place(ingest, 1)
    response = client.post(BULK, {"ids": [a.pk], "action": "tag_add", "tag": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not Order.objects.filter(tags__name="x").exists()


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_export_csv_of_the_current_filter(admin_client, ingest):
    place(ingest, 1, channel="allegro")
    place(ingest, 2, channel="shop")
    place(
        ingest,
        3,
        channel="allegro",
        lines=[
            {"sku": "A", "quantity": 1, "unit_price_gross": "10.00"},
            {"sku": "B", "quantity": 2, "unit_price_gross": "5.00"},
        ],
    )
    response = admin_client.get(EXPORT, {"fmt": "csv", "channel": "allegro"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert [(r["order_number"], r["sku"]) for r in rows] == [("B-1", "SKU-0001"), ("B-3", "A"), ("B-3", "B")]


def test_export_xlsx(admin_client, ingest):
    place(ingest, 1)
    response = admin_client.get(EXPORT, {"fmt": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    body = _body(response)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert "xl/workbook.xml" in zf.namelist()


def test_export_bad_input(admin_client, db):
    assert admin_client.get(EXPORT, {"fmt": "pdf"}).status_code == 400
    response = admin_client.get(EXPORT, {"fmt": "csv", "date_to": "31.12.2026"})
    assert response.status_code == 400
    assert "date_to" in response.content.decode()


def test_export_needs_permission(client, make_user, ingest):
    place(ingest, 1)
    client.force_login(make_user("warehouse"))
    assert client.get(EXPORT, {"fmt": "csv"}).status_code == 403
    client.force_login(make_user("marketing"))
    assert client.get(EXPORT, {"fmt": "csv"}).status_code == 200

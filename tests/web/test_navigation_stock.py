"""The app shell's navigation per role, and the stock page's filters and pages."""

from __future__ import annotations

import re

from zaplecze.web import views as web_views


def nav(html: str) -> list[tuple[str, bool]]:
    return [
        (key, "active" in cls)
        for key, cls in re.findall(r'<a href="[^"]+" data-area="(\w+)"(?: class="([^"]*)")?', html)
    ]


def _active(items: list[tuple[str, bool]]) -> list[str]:
    return [key for key, active in items if active]


def test_navigation_marks_one_active_area_and_shows_settings_to_admins(admin_client, db):
    home = nav(admin_client.get("/dashboard/").content.decode())
    keys = [k for k, _ in home]
    # the foundation areas in their order, module areas between them, "settings" always last
    assert [k for k in keys if k in {"today", "dashboard", "orders", "stock", "jobs"}] == [
        "today",
        "dashboard",
        "orders",
        "stock",
        "jobs",
    ]
    assert keys[-1] == "settings"
    assert len(keys) == len(set(keys))
    assert _active(home) == ["dashboard"]
    assert _active(nav(admin_client.get("/orders/new/").content.decode())) == ["orders"]
    assert _active(nav(admin_client.get("/orders/settings/channels/").content.decode())) == ["settings"]


def test_no_settings_entry_without_permission(client, make_user):
    client.force_login(make_user("warehouse"))
    keys = [k for k, _ in nav(client.get("/dashboard/").content.decode())]
    assert "settings" not in keys
    assert [k for k in keys if k in {"today", "dashboard", "orders", "stock", "jobs"}] == [
        "today",
        "dashboard",
        "orders",
        "stock",
        "jobs",
    ]


def test_stock_filters_and_pages(admin_client, product_factory, monkeypatch):
    monkeypatch.setattr(web_views, "STOCK_PAGE_SIZE", 2)
    for sku, stock in (("CUP-1", 5), ("CUP-2", 0), ("CUP-3", 7), ("PLATE-1", 3)):
        product_factory(sku=sku, stock=stock)
    html = admin_client.get("/stock/", {"q": "cup"}).content.decode()
    skus = re.findall(r'title="Orders with this SKU">([^<]+)</a>', html)
    assert skus == ["CUP-1", "CUP-3"]  # CUP-2 never got stock, so it has no level row
    assert "Page 1 of 1 · 2 rows" in html
    html = admin_client.get("/stock/").content.decode()
    assert re.findall(r'title="Orders with this SKU">([^<]+)</a>', html) == ["CUP-1", "CUP-3"]
    assert "Page 1 of 2 · 3 rows" in html
    next_link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    html = admin_client.get("/stock/" + next_link).content.decode()
    assert re.findall(r'title="Orders with this SKU">([^<]+)</a>', html) == ["PLATE-1"]


def test_stock_only_none_available(admin_client, product_factory, ingest):
    product_factory(sku="SKU-0001", stock=2)
    product_factory(sku="SKU-0002", stock=9)
    ingest()  # reserves the 2 units of SKU-0001
    html = admin_client.get("/stock/", {"low": "1"}).content.decode()
    assert re.findall(r'title="Orders with this SKU">([^<]+)</a>', html) == ["SKU-0001"]

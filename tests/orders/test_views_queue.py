"""The order queue page: filters, search, sorting, keyset pages, errors, htmx partial, query counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from zaplecze.orders import views
from zaplecze.orders.models import Order
from zaplecze.orders.services import order_tags_change

QUEUE = reverse("orders:queue")


def numbers(response) -> list[str]:
    """Order numbers in the queue table, in page order."""
    html = response.content.decode()
    return re.findall(r'<a class="strong" href="/orders/\d+/">([^<]+)</a>', html)


def place(ingest, n: int, **overrides):
    data = {
        "external_id": f"Q{n}",
        "number": f"Q-{n}",
        "email": f"buyer{n}@example.com",
        "phone": f"+48 600 000 {n:03d}",
        "customer_name": f"Buyer {n}",
    }
    data.update(overrides)
    return ingest(**data).order


def test_queue_needs_login(client, db):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_queue_lists_orders_newest_first_with_badge_and_money(admin_client, ingest, product_factory):
    product_factory(sku="SKU-0001")
    place(ingest, 1, placed_at="2026-11-20T10:00:00+00:00")
    place(ingest, 2, placed_at="2026-11-21T10:00:00+00:00")
    response = admin_client.get(QUEUE)
    assert response.status_code == 200
    assert numbers(response) == ["Q-2", "Q-1"]
    html = response.content.decode()
    assert 'class="badge" style="--c: #10b981">Ready to fulfil</span>' in html  # paid card order -> ready
    assert "PLN112.97" in html  # 2 x 49.99 + 12.99 shipping, en_GB money format


def test_queue_filters_by_status_channel_and_payment(admin_client, ingest):
    place(ingest, 1)
    place(ingest, 2, channel="allegro", payment_method="cod", payment_status=None)
    place(ingest, 3, payment_method="transfer", payment_status="unpaid")
    assert numbers(admin_client.get(QUEUE, {"channel": "allegro"})) == ["Q-2"]
    assert numbers(admin_client.get(QUEUE, {"status": "awaiting_payment"})) == ["Q-3"]
    assert numbers(admin_client.get(QUEUE, {"payment_method": "cod"})) == ["Q-2"]
    assert sorted(numbers(admin_client.get(QUEUE, {"stage": "ready"}))) == ["Q-1", "Q-2"]


def test_queue_text_search_by_sku_email_and_phone(admin_client, ingest):
    place(ingest, 1, lines=[{"sku": "MUG-RED", "quantity": 1, "unit_price_gross": "10.00"}])
    place(ingest, 2)
    assert numbers(admin_client.get(QUEUE, {"q": "mug-red"})) == ["Q-1"]
    assert numbers(admin_client.get(QUEUE, {"q": "buyer2@example.com"})) == ["Q-2"]
    assert numbers(admin_client.get(QUEUE, {"q": "600000001"})) == ["Q-1"]


def test_queue_filters_by_date_range_tag_attention_and_late(
    admin_client, ingest, admin_user, product_factory
):
    product_factory(sku="SKU-0001")
    old = place(ingest, 1, placed_at="2026-01-05T10:00:00+00:00")
    place(
        ingest,
        2,
        placed_at="2026-02-05T10:00:00+00:00",
        lines=[{"sku": "NOPE", "quantity": 1, "unit_price_gross": "5.00"}],
    )
    order_tags_change(order_ids=[old.pk], add=["VIP"], actor=admin_user)
    assert numbers(admin_client.get(QUEUE, {"date_from": "2026-02-01", "date_to": "2026-02-28"})) == ["Q-2"]
    assert numbers(admin_client.get(QUEUE, {"tag": "VIP"})) == ["Q-1"]
    assert numbers(admin_client.get(QUEUE, {"needs_attention": "1"})) == ["Q-2"]
    # Both are open orders placed long ago: past their ship-by time.
    response = admin_client.get(QUEUE, {"late": "1"})
    assert sorted(numbers(response)) == ["Q-1", "Q-2"]
    assert response.content.decode().count('<span class="pill pill-late">Late</span>') == 2


def test_late_indicator_only_for_open_orders_past_ship_by(admin_client, ingest):
    now = timezone.now()
    place(ingest, 1, placed_at=(now - dt.timedelta(days=10)).isoformat())
    place(ingest, 2, placed_at=(now - dt.timedelta(days=10)).isoformat(), stage="shipped")
    place(ingest, 3, placed_at=now.isoformat())
    html = admin_client.get(QUEUE).content.decode()
    rows = re.findall(r'<tr class="([^"]*)" data-order="(\d+)">', html)
    late = {Order.objects.get(pk=int(pk)).number for cls, pk in rows if "is-late" in cls}
    assert late == {"Q-1"}


def test_bad_filter_value_shows_the_error_and_no_rows(admin_client, ingest):
    place(ingest, 1)
    response = admin_client.get(QUEUE, {"date_from": "yesterday"})
    assert response.status_code == 400
    assert "date_from: &#x27;yesterday&#x27; is not a date (YYYY-MM-DD)" in response.content.decode()
    assert numbers(response) == []
    response = admin_client.get(QUEUE, {"stage": "lost"})
    assert response.status_code == 400
    assert "stage: unknown lost" in response.content.decode()
    response = admin_client.get(QUEUE, {"sort": "customer"})
    assert response.status_code == 400
    assert "sort: choose one of" in response.content.decode()


def test_sorting_by_total_both_ways_from_the_column_header(admin_client, ingest):
    for n, price in ((1, "30.00"), (2, "10.00"), (3, "20.00")):
        place(ingest, n, shipping_cost="0", lines=[{"sku": "X", "quantity": 1, "unit_price_gross": price}])
    assert numbers(admin_client.get(QUEUE, {"sort": "total_gross"})) == ["Q-2", "Q-3", "Q-1"]
    response = admin_client.get(QUEUE, {"sort": "-total_gross"})
    assert numbers(response) == ["Q-1", "Q-3", "Q-2"]
    # The header link of the sorted column flips the direction.
    assert 'class="sort desc" href="?sort=total_gross"' in response.content.decode()


def test_keyset_pages_next_and_first(admin_client, ingest, monkeypatch):
    monkeypatch.setattr(views, "QUEUE_PAGE_SIZE", 2)
    for n in range(1, 6):
        place(ingest, n, placed_at=f"2026-11-{10 + n}T10:00:00+00:00")
    first = admin_client.get(QUEUE, {"channel": "shop"})
    assert numbers(first) == ["Q-5", "Q-4"]
    html = first.content.decode()
    next_url = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "channel=shop" in next_url and "cursor=" in next_url
    assert "First page" not in html
    second = admin_client.get(QUEUE + next_url)
    assert numbers(second) == ["Q-3", "Q-2"]
    assert "First page" in second.content.decode()
    third_url = (
        re.search(r'rel="next" href="([^"]+)"', second.content.decode()).group(1).replace("&amp;", "&")
    )
    third = admin_client.get(QUEUE + third_url)
    assert numbers(third) == ["Q-1"]
    assert 'rel="next"' not in third.content.decode()


def test_broken_cursor_is_a_clear_error(admin_client, db):
    response = admin_client.get(QUEUE, {"cursor": "%%%"})
    assert response.status_code == 400
    assert "cursor: not a valid page cursor" in response.content.decode()


def test_htmx_request_into_the_table_gets_only_the_results(admin_client, ingest):
    place(ingest, 1)
    response = admin_client.get(QUEUE, {"q": "q-1"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert numbers(response) == ["Q-1"]
    assert 'id="bulk-form"' in html
    full = admin_client.get(QUEUE, {"q": "q-1"})
    assert "<html" in full.content.decode()


def test_composite_filter_from_a_dashboard_link_is_kept_in_the_form(admin_client, db):
    html = admin_client.get(QUEUE, {"stage": "ready,in_fulfilment"}).content.decode()
    assert '<option value="ready,in_fulfilment" selected>Ready to fulfil, In fulfilment</option>' in html
    assert "Stage: Ready to fulfil, In fulfilment" in html  # the filter chip


def test_export_links_carry_the_current_filter(admin_client, db):
    html = admin_client.get(
        QUEUE, {"channel": "allegro", "needs_attention": "1", "q": "anna"}
    ).content.decode()
    assert 'href="/orders/export/?fmt=csv&amp;channel=allegro&amp;needs_attention=true&amp;q=anna"' in html
    assert 'href="/orders/export/?fmt=xlsx&amp;channel=allegro&amp;needs_attention=true&amp;q=anna"' in html


def test_read_only_role_sees_no_bulk_or_export_controls(client, make_user, ingest):
    place(ingest, 1)
    client.force_login(make_user("readonly"))
    html = client.get(QUEUE).content.decode()
    assert numbers(client.get(QUEUE)) == ["Q-1"]
    assert 'name="ids"' not in html
    assert "/orders/export/" not in html
    assert 'href="/orders/new/"' not in html


def _queue_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(QUEUE)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_queue_query_count_does_not_grow_with_rows(admin_client, ingest, admin_user):
    few = [place(ingest, n) for n in range(1, 3)]
    order_tags_change(order_ids=[o.pk for o in few], add=["VIP"], actor=admin_user)
    admin_client.get(QUEUE)  # first request of the session stamps its idle timer (a session write)
    baseline = _queue_queries(admin_client)
    many = [place(ingest, n, channel=("allegro" if n % 2 else "shop")) for n in range(3, 31)]
    order_tags_change(order_ids=[o.pk for o in many], add=["gift", "B2B"], actor=admin_user)
    assert len(numbers(admin_client.get(QUEUE))) == 30
    assert _queue_queries(admin_client) == baseline
    # session + user, statuses, channels, tags, the page, its tags
    assert baseline <= 7


def test_queue_page_within_query_budget(admin_client, ingest, django_assert_max_num_queries):
    for n in range(1, 21):
        place(ingest, n)
    with django_assert_max_num_queries(11):  # the 10 above + one for the search index
        admin_client.get(QUEUE, {"status": "ready", "q": "buyer"})

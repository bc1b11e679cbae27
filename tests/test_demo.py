"""The demo shop: deterministic, valid codes, a realistic status mix, a consistent event log and stock
ledger, the same rows as the intake writes, and visible seasonality."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import Sum
from stdnum import ean as stdnum_ean
from stdnum.pl import nip as stdnum_nip

from zaplecze.catalog.models import Category, Product, Variant
from zaplecze.demo import build_demo
from zaplecze.demo.plan import black_friday, ean13, nip_make, plan_shop
from zaplecze.inventory.models import Reservation, StockLevel, StockMovement
from zaplecze.orders.models import (
    HOLDING_STAGES,
    STAGE_TRANSITIONS,
    Customer,
    Order,
    OrderEvent,
    OrderSearchToken,
    OrderStatus,
    Stage,
)

WARSAW = ZoneInfo("Europe/Warsaw")
# A Wednesday afternoon in the Christmas peak: the warehouse is at work, orders are at every stage.
NOW = dt.datetime(2025, 12, 10, 13, 30, tzinfo=WARSAW)


def _snapshot() -> list[tuple]:
    return list(
        Order.objects.order_by("number").values_list(
            "number",
            "channel__code",
            "external_id",
            "status__code",
            "total_gross",
            "placed_at",
            "email",
            "needs_attention",
        )
    )


pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_db(django_db_setup, django_db_blocker):
    """One demo shop (400 orders over 120 days) shared by the read-only tests of this module."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            stats = build_demo(orders=400, days=120, seed=11, now=NOW)
            yield stats
            transaction.set_rollback(True)


def test_catalogue_has_about_300_products_with_valid_eans_and_polish_vat_rates(demo_db):
    variants = list(Variant.objects.select_related("product__category__parent"))
    assert 280 <= Product.objects.count() <= 320
    assert all(stdnum_ean.is_valid(v.ean) and len(v.ean) == 13 and v.ean.startswith("590") for v in variants)
    assert len({v.ean for v in variants}) == len(variants)
    assert {v.vat_rate for v in variants} == {"23", "8", "5"}
    assert Counter(v.vat_rate for v in variants).most_common(1)[0][0] == "23"
    assert all(v.cost_price < v.price and v.weight_kg > 0 for v in variants)
    roots = set(Category.objects.filter(parent=None).values_list("name", flat=True))
    assert {
        "Dom i kuchnia",
        "Elektronika",
        "Zabawki",
        "Moda",
        "Sport i turystyka",
        "Uroda i zdrowie",
    } <= roots
    assert all(v.product.category.parent.name in roots for v in variants)
    books = [v for v in variants if v.product.category.parent.name == "Książki"]
    assert books and all(v.vat_rate == "5" for v in books)


def test_check_digit_helpers_agree_with_stdnum():
    import random

    rng = random.Random(3)
    for _ in range(200):
        assert stdnum_nip.is_valid(nip_make(rng))
        body = "".join(str(rng.randrange(10)) for _ in range(12))
        assert ean13(body) == body + stdnum_ean.calc_check_digit(body)


def test_customers_are_polish_and_business_nips_are_valid(demo_db):
    customers = list(Customer.objects.all())
    businesses = [c for c in customers if c.type != "consumer"]
    assert businesses and all(stdnum_nip.is_valid(c.nip) and c.company for c in businesses)
    assert all(c.phone.startswith("+48 ") and len(c.phone.replace(" ", "")) == 12 for c in customers)
    assert all(
        c.email.split("@")[1].endswith(("example.com", "example.net", "example.org")) for c in customers
    )
    orders = list(Order.objects.all())
    assert all(
        o.shipping_address["postcode"][2] == "-" and len(o.shipping_address["postcode"]) == 6 for o in orders
    )
    lockers = [o.pickup_point for o in orders if o.delivery_method == "inpost_locker"]
    assert lockers and all(p[:3].isalpha() and p[3:-1].isdigit() for p in lockers)


def test_status_mix_channels_and_payments_are_realistic(demo_db):
    stages = Counter(Order.objects.values_list("stage", flat=True))
    assert {
        Stage.COMPLETED,
        Stage.DELIVERED,
        Stage.SHIPPED,
        Stage.CANCELLED,
        Stage.RETURNED,
        Stage.READY,
    } <= set(stages)
    assert stages[Stage.COMPLETED] > sum(stages.values()) / 2
    assert stages[Stage.CANCELLED] + stages[Stage.RETURNED] < sum(stages.values()) / 10
    channels = Counter(Order.objects.values_list("channel__code", flat=True))
    assert channels.most_common(2)[0][0] == "allegro" and {"shop", "amazon", "erli", "manual"} <= set(
        channels
    )
    payments = set(Order.objects.values_list("payment_method", flat=True))
    assert {"cod", "blik", "transfer", "card"} <= payments
    assert Order.objects.filter(stage__in=HOLDING_STAGES, ship_by__lt=NOW).exists()  # some are late
    assert Order.objects.filter(needs_attention=True).exists()
    assert demo_db["orders"] == 400 and demo_db["by_stage"] == dict(sorted(stages.items()))


def test_event_log_is_a_legal_timeline_ending_in_the_orders_status(demo_db):
    events = defaultdict(list)
    for e in OrderEvent.objects.order_by("order_id", "at", "id"):
        events[e.order_id].append(e)
    codes = dict(OrderStatus.objects.values_list("code", "stage"))
    for order in Order.objects.select_related("status"):
        log = events[order.pk]
        assert log[0].kind == OrderEvent.Kind.CREATED
        assert order.placed_at <= log[0].at == order.created_at
        assert log[-1].at <= NOW
        current = log[0].to_status
        for e in log[1:]:
            if e.kind == OrderEvent.Kind.STATUS:
                assert e.from_status == current
                assert (
                    codes[e.to_status] == codes[current]
                    or codes[e.to_status] in STAGE_TRANSITIONS[codes[current]]
                )
                current = e.to_status
        assert current == order.status.code
        if order.stage in (Stage.SHIPPED, Stage.DELIVERED, Stage.COMPLETED):
            assert order.shipped_at is not None
            assert any(e.kind == OrderEvent.Kind.STOCK_ISSUED and e.at == order.shipped_at for e in log)


def test_a_paid_transfer_order_goes_placed_paid_picked_packed_shipped_delivered(demo_db):
    order = Order.objects.filter(
        payment_method="transfer", stage=Stage.COMPLETED, channel__code="shop"
    ).first()
    steps = [(e.kind, e.to_status) for e in order.events.order_by("at", "id")]
    assert steps[:3] == [("created", "awaiting_payment"), ("payment", ""), ("status", "ready")]
    assert steps[3:] == [
        ("status", "picking"),
        ("status", "packed"),
        ("status", "shipped"),
        ("stock_issued", ""),
        ("status", "delivered"),
        ("status", "completed"),
    ]
    times = [e.at for e in order.events.order_by("at", "id")]
    assert times == sorted(times) and order.paid_at == times[1]


def test_totals_and_search_tokens_are_what_the_intake_writes(demo_db):
    from zaplecze.orders.services import _tokens

    for order in Order.objects.prefetch_related("lines")[:60]:
        lines = list(order.lines.all())
        assert order.total_gross == sum(ln.total_gross for ln in lines) + order.shipping_cost - order.discount
        assert order.total_vat == order.total_gross - order.total_net
        tokens = set(OrderSearchToken.objects.filter(order=order).values_list("token", flat=True))
        assert tokens == _tokens(order, [ln.sku for ln in lines])


ORDER_COLS = (
    "number status_id stage customer_name email phone company nip billing_address shipping_address "
    "shipping_postcode payment_method payment_status paid_at delivery_method pickup_point total_net "
    "total_vat total_gross shipping_cost discount placed_at ship_by notes customer_id"
).split()
LINE_COLS = (
    "position variant_id sku ean name quantity unit_price_gross vat_rate total_net total_gross".split()
)


def _row(obj, cols) -> dict:
    return {c: getattr(obj, c) for c in cols}


def test_a_demo_order_is_the_same_as_ingest_order_makes_from_its_payload(demo_db):
    from zaplecze.core.businesstime import tz
    from zaplecze.orders.schemas import OrderIn
    from zaplecze.orders.services import ingest_order

    _rng, _p, _c, plans = plan_shop(orders=400, days=120, seed=11, now=NOW, tz=tz())
    plan = next(p for p in plans if p.final_status == "completed" and len(p.payload["lines"]) > 1)
    demo = Order.objects.get(channel__code=plan.channel, external_id=plan.payload["external_id"])
    with transaction.atomic():
        again = ingest_order(OrderIn.model_validate(plan.payload), source="test")
        twin = ingest_order(
            OrderIn.model_validate({**plan.payload, "external_id": "twin-1"}), source="test"
        ).order
        twin_lines = [_row(ln, LINE_COLS) for ln in twin.lines.all()]
        transaction.set_rollback(True)

    assert (again.outcome, again.order.pk) == ("unchanged", demo.pk)  # same fingerprint as the intake's
    assert _row(twin, ORDER_COLS) == _row(demo, ORDER_COLS)
    assert twin_lines == [_row(ln, LINE_COLS) for ln in demo.lines.all()]
    assert len(twin_lines) == len(plan.payload["lines"])


def test_stock_ledger_adds_up_and_open_orders_hold_reservations(demo_db):
    for level in StockLevel.objects.all():
        moves = list(
            StockMovement.objects.filter(variant=level.variant_id, warehouse=level.warehouse_id)
            .order_by("at", "id")
            .values_list("quantity", "on_hand_after")
        )
        running = 0
        for qty, after in moves:
            running += qty
            assert after == running >= 0
        assert running == level.on_hand
        active = (
            Reservation.objects.filter(
                variant=level.variant_id, warehouse=level.warehouse_id, state=Reservation.State.ACTIVE
            ).aggregate(s=Sum("quantity"))["s"]
            or 0
        )
        assert level.reserved == active <= level.on_hand
    sold = -(StockMovement.objects.filter(kind="sale").aggregate(s=Sum("quantity"))["s"])
    issued = Reservation.objects.filter(state=Reservation.State.ISSUED).aggregate(s=Sum("quantity"))["s"]
    assert sold == issued > 0
    for order in Order.objects.filter(stage__in=HOLDING_STAGES).prefetch_related("lines"):
        for line in order.lines.all():
            held = Reservation.objects.filter(reference=line.reservation_ref, state="active").exists()
            reasons = {r["code"] for r in order.attention_reasons}
            assert held or (line.variant_id is None and "unknown_sku" in reasons) or "stock_short" in reasons


def test_seasonality_weekly_and_yearly():
    _rng, _p, _c, plans = plan_shop(
        orders=8000, days=365, seed=42, now=dt.datetime(2026, 6, 30, 12, tzinfo=WARSAW), tz=WARSAW
    )
    local = [p.payload["placed_at"].astimezone(WARSAW) for p in plans]
    by_month = Counter(t.month for t in local)
    assert by_month[12] > 1.5 * by_month[7]
    assert by_month[7] < by_month[5] and by_month[8] < by_month[10]
    by_day = Counter(t.date() for t in local)
    bf = black_friday(2025)
    assert by_day[bf] > 2.5 * (len(plans) / 365)
    assert by_day[dt.date(2025, 12, 24)] < by_day[dt.date(2025, 12, 10)] / 3
    weekdays = Counter(t.weekday() for t in local)
    assert weekdays[6] > weekdays[5] and weekdays[0] > weekdays[5]  # Sunday and Monday beat Saturday
    hours = Counter(t.hour for t in local)
    assert hours[20] > 2 * hours[8] and hours[20] > 10 * hours[3]  # the evening peak

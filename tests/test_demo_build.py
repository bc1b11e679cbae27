"""The demo shop builds deterministically, and only into an empty database (service and CLI)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from django.db import transaction
from django.db.models import Sum

from zaplecze.catalog.models import Variant
from zaplecze.core.errors import DomainError
from zaplecze.demo import build_demo
from zaplecze.inventory.models import StockMovement
from zaplecze.orders.models import Order, OrderEvent

NOW = dt.datetime(2025, 12, 10, 13, 30, tzinfo=ZoneInfo("Europe/Warsaw"))


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


def test_same_seed_gives_identical_shop_and_another_seed_does_not(db):
    runs = []
    for seed in (5, 5, 6):
        with transaction.atomic():
            build_demo(orders=120, days=40, seed=seed, now=NOW)
            runs.append(
                (
                    _snapshot(),
                    list(Variant.objects.order_by("sku").values_list("sku", "ean", "price")),
                    OrderEvent.objects.count(),
                    StockMovement.objects.aggregate(s=Sum("quantity"))["s"],
                )
            )
            transaction.set_rollback(True)
    assert len(runs[0][0]) == 120
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]


def test_refuses_a_database_that_already_has_data(product_factory):
    product_factory(sku="REAL-1")
    with pytest.raises(DomainError) as exc:
        build_demo(orders=10, days=5, now=NOW)
    assert exc.value.code == "not_empty"
    assert Order.objects.count() == 0 and Variant.objects.count() == 1


def test_cli_builds_a_small_demo_and_refuses_a_second_run(db):
    from zaplecze.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--orders", "60", "--days", "30", "--seed", "3"])
    assert first.exit_code == 0, first.output
    assert "Demo shop ready: 60 orders" in first.output
    assert Order.objects.count() == 60
    second = runner.invoke(main, ["demo", "--orders", "60"])
    assert second.exit_code == 1 and "empty database" in second.output
    assert Order.objects.count() == 60

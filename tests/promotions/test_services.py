"""Campaigns: validation, codes, launch, start/end by the worker, edits while running, deleted products."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from zaplecze.catalog.models import PriceChange, Variant
from zaplecze.catalog.omnibus import effective_prices
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.promotions import services
from zaplecze.promotions.models import Campaign, CampaignEvent, CampaignItem, CampaignStatus


def _now():
    return timezone.now()


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "needle"),
    [
        ({"value": "120"}, "value", "over 100"),
        ({"value": "100"}, "value", "100 %"),
        ({"value": "0"}, "value", "more than zero"),
        ({"value": "abc"}, "value", "not a number"),
        ({"value": "10.005"}, "value", "decimal"),
        ({"name": " "}, "name", "name"),
        ({"kind": "lottery"}, "kind", "Unknown"),
        ({"kind": "free_shipping"}, "threshold", "order value"),
        ({"kind": "buy_x_get_y", "buy_quantity": 2}, "get_quantity", "free"),
        ({"budget": "-5"}, "budget", "negative"),
        ({"channels": ["nowhere"]}, "channels", "Unknown channel"),
    ],
)
def test_bad_campaign_input_names_the_field_and_writes_nothing(
    product_factory, campaign_factory, data, field, needle
):
    v = product_factory()
    with pytest.raises(DomainError) as exc:
        campaign_factory([v], **data)
    assert exc.value.field == field
    assert needle in str(exc.value.message)
    assert Campaign.objects.count() == 0


def test_end_before_start_is_refused(product_factory, campaign_factory):
    v = product_factory()
    start = _now() + dt.timedelta(days=2)
    with pytest.raises(DomainError) as exc:
        campaign_factory([v], start=start, end=start - dt.timedelta(hours=1))
    assert exc.value.field == "end"
    assert Campaign.objects.count() == 0


def test_price_campaign_needs_targets_and_targets_must_exist(campaign_factory):
    with pytest.raises(DomainError) as exc:
        campaign_factory([], targets=[])
    assert exc.value.field == "targets"
    with pytest.raises(NotFound) as exc:
        campaign_factory([], targets=[{"kind": "product", "product_id": 99999}])
    assert exc.value.field == "targets[0].product_id"


def test_naive_times_are_shop_time(product_factory, campaign_factory):
    v = product_factory()
    c = campaign_factory([v], start="2030-07-01T00:00", end="2030-07-08T00:00")
    assert c.start == dt.datetime(2030, 6, 30, 22, 0, tzinfo=dt.UTC)  # midnight in Warsaw (CEST)


# --- codes --------------------------------------------------------------------------------------------


def test_the_same_code_in_overlapping_campaigns_is_refused(campaign_factory, manager):
    a = campaign_factory(kind="codes", value="10", targets=[])
    b = campaign_factory(kind="codes", value="15", targets=[], start=a.start + dt.timedelta(days=3))
    later = campaign_factory(kind="codes", value="15", targets=[], start=a.end + dt.timedelta(days=1))
    services.code_add(campaign_id=a.pk, code="summer25", actor=manager)
    with pytest.raises(DomainError) as exc:
        services.code_add(campaign_id=b.pk, code="SUMMER25", actor=manager)
    assert exc.value.code == "code_overlap"
    assert b.codes.count() == 0
    # a period that does not overlap may reuse it
    services.code_add(campaign_id=later.pk, code="SUMMER25", actor=manager)
    # ... but moving it onto the first campaign's period is refused
    with pytest.raises(DomainError):
        services.campaign_update(campaign_id=later.pk, data={"start": a.start, "end": a.end}, actor=manager)
    later.refresh_from_db()
    assert later.start > a.end


def test_single_use_code_is_used_once(campaign_factory, manager):
    c = campaign_factory(kind="codes", value="10", targets=[], start=_now() - dt.timedelta(minutes=1))
    services.code_add(campaign_id=c.pk, code="ONCE-1", max_uses=1, actor=manager)
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    c.refresh_from_db()
    assert c.status == CampaignStatus.RUNNING
    services.code_redeem(code="once-1", order_ref="shop:1")
    services.code_redeem(code="once-1", order_ref="shop:1")  # the same order again: no second use
    with pytest.raises(Conflict):
        services.code_redeem(code="ONCE-1", order_ref="shop:2")
    assert c.codes.get().uses == 1
    with pytest.raises(NotFound):
        services.code_redeem(code="NOPE-1", order_ref="shop:3")


def test_generate_codes_in_bulk_and_export_csv(campaign_factory, manager):
    c = campaign_factory(kind="codes", value="15", targets=[])
    assert services.codes_generate(campaign_id=c.pk, count=500, prefix="bf", length=8, actor=manager) == 500
    codes = list(c.codes.values_list("code", flat=True))
    assert len(set(codes)) == 500
    assert all(code.startswith("BF-") and len(code) == 11 for code in codes)
    lines = services.codes_csv(c).strip().splitlines()
    assert len(lines) == 501
    assert lines[0].startswith("code,max_uses,uses,valid_from")
    assert lines[1].split(",")[1] == "1"
    with pytest.raises(DomainError):
        services.codes_generate(campaign_id=c.pk, count=0, actor=manager)


# --- launch, start, end -------------------------------------------------------------------------------


def test_launch_is_blocked_by_errors_unless_overridden_with_a_reason(
    product_factory, campaign_factory, cost, manager
):
    v = cost(product_factory(price="100.00"), "70.00")  # net after -20 %: 80/1.23 = 65.04 < 70: below cost
    c = campaign_factory([v])
    with pytest.raises(DomainError) as exc:
        services.campaign_launch(campaign_id=c.pk, actor=manager)
    assert exc.value.code == "check_failed"
    c.refresh_from_db()
    assert c.status == CampaignStatus.DRAFT
    with pytest.raises(DomainError):
        services.campaign_launch(campaign_id=c.pk, actor=manager, override_reason="ok")  # too short
    services.campaign_launch(campaign_id=c.pk, actor=manager, override_reason="Clearance of old stock")
    c.refresh_from_db()
    assert c.status == CampaignStatus.SCHEDULED
    assert c.override_reason == "Clearance of old stock"
    ev = c.events.get(kind=CampaignEvent.Kind.OVERRIDE)
    assert ev.actor == manager
    assert ev.data["errors"] == 1


def test_worker_starts_and_ends_a_campaign_and_prices_come_back(product_factory, campaign_factory, manager):
    v = product_factory(price="100.00")
    start = _now() + dt.timedelta(hours=1)
    c = campaign_factory([v], start=start, end=start + dt.timedelta(days=2), value="25")
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    assert services.campaigns_tick(now=_now()) == {"started": 0, "ended": 0}
    assert Variant.objects.get(pk=v.pk).price == D("100.00")

    # the start has come (the worker is a little late)
    services.campaigns_tick(now=start + dt.timedelta(seconds=30))
    c.refresh_from_db()
    assert c.status == CampaignStatus.RUNNING
    item = CampaignItem.objects.get(campaign=c)
    assert (item.regular_price, item.promo_price) == (D("100.00"), D("75.00"))
    entries = list(
        PriceChange.objects.filter(variant=v, source=f"promotion:{c.pk}").order_by("effective_from")
    )
    assert [(e.kind, e.price) for e in entries] == [("promo", D("75.00")), ("regular", D("100.00"))]
    assert entries[1].effective_from == c.end
    during = effective_prices([v.pk], "", start + dt.timedelta(hours=1))[v.pk]
    assert (during.price, during.sale_price, during.sale_to) == (D("75.00"), D("75.00"), c.end)

    services.campaigns_tick(now=c.end + dt.timedelta(seconds=5))
    c.refresh_from_db()
    assert c.status == CampaignStatus.ENDED
    assert effective_prices([v.pk], "", c.end + dt.timedelta(minutes=1))[v.pk].price == D("100.00")
    assert CampaignItem.objects.get(campaign=c).reverted_at is not None
    # idempotent
    assert services.campaigns_tick(now=c.end + dt.timedelta(minutes=2)) == {"started": 0, "ended": 0}


def test_launch_of_a_campaign_starting_now_changes_the_price_at_once(
    product_factory, campaign_factory, manager
):
    v = product_factory(price="80.00")
    c = campaign_factory([v], start=_now() - dt.timedelta(minutes=1), value_type="amount", value="15")
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    c.refresh_from_db()
    assert c.status == CampaignStatus.RUNNING
    assert Variant.objects.get(pk=v.pk).price == D("65.00")


def test_cancelling_a_running_campaign_restores_prices_now(product_factory, campaign_factory, manager):
    v = product_factory(price="50.00")
    c = campaign_factory([v], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    assert Variant.objects.get(pk=v.pk).price == D("40.00")
    services.campaign_cancel(campaign_id=c.pk, actor=manager, reason="Supplier price went up")
    c.refresh_from_db()
    assert c.status == CampaignStatus.CANCELLED
    assert Variant.objects.get(pk=v.pk).price == D("50.00")
    with pytest.raises(IllegalTransition):
        services.campaign_launch(campaign_id=c.pk, actor=manager)


def test_edit_while_running_is_recorded_rechecked_and_applied(
    product_factory, campaign_factory, cost, manager
):
    a = product_factory(price="100.00")
    b = product_factory(price="200.00")
    c = campaign_factory([a], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    old_end = c.end
    new_end = old_end + dt.timedelta(days=3)
    services.campaign_update(
        campaign_id=c.pk,
        data={"value": "30", "end": new_end},
        targets=[{"kind": "product", "product_id": b.product_id}],
        actor=manager,
    )
    c.refresh_from_db()
    assert c.version == 2
    edited = c.events.get(kind=CampaignEvent.Kind.EDITED)
    assert edited.data["changes"]["value"] == ["20.00", "30.00"]
    assert "targets" in edited.data["changes"]
    assert c.checks.count() == 2  # launch + re-check
    # a is out of the campaign now (regular at once), b is in at -30 %
    assert Variant.objects.get(pk=a.pk).price == D("100.00")
    assert Variant.objects.get(pk=b.pk).price == D("140.00")
    # b keeps its promotional price past the old end, back at the new end
    assert effective_prices([b.pk], "", old_end + dt.timedelta(hours=1))[b.pk].price == D("140.00")
    assert effective_prices([b.pk], "", new_end + dt.timedelta(minutes=1))[b.pk].price == D("200.00")

    # a change that fails the check needs a reason
    cost(b, "150.00")
    with pytest.raises(DomainError) as exc:
        services.campaign_update(campaign_id=c.pk, data={"value": "50"}, actor=manager)
    assert exc.value.code == "check_failed"
    c.refresh_from_db()
    assert c.value == D("30.00")
    assert Variant.objects.get(pk=b.pk).price == D("140.00")
    # the start of a running campaign is fixed
    with pytest.raises(DomainError) as exc:
        services.campaign_update(
            campaign_id=c.pk, data={"start": c.start - dt.timedelta(days=1)}, actor=manager
        )
    assert exc.value.field == "start"
    # stale version
    with pytest.raises(Conflict):
        services.campaign_update(campaign_id=c.pk, data={"name": "X"}, expected_version=1, actor=manager)


def test_product_deleted_or_archived_mid_campaign(product_factory, campaign_factory, manager):
    from zaplecze.catalog.services import variant_remove

    a = product_factory(price="100.00")
    b = product_factory(price="60.00")
    c = campaign_factory([a, b], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    assert variant_remove(variant_id=a.pk, actor=manager) == "archived"
    from zaplecze.inventory.models import StockLevel, StockMovement

    StockMovement.objects.filter(variant=b).delete()
    StockLevel.objects.filter(variant=b).delete()
    PriceChange.objects.filter(variant=b).delete()
    Variant.objects.filter(pk=b.pk).delete()  # gone altogether (e.g. removed in the admin)
    c.refresh_from_db()
    services.campaigns_tick(now=c.end + dt.timedelta(seconds=1))
    c.refresh_from_db()
    assert c.status == CampaignStatus.ENDED
    ev = c.events.filter(kind=CampaignEvent.Kind.PRICES).first()
    assert ev.data["deleted_skus"] == [b.sku]
    assert effective_prices([a.pk], "", c.end + dt.timedelta(minutes=1))[a.pk].price == D("100.00")


def test_regular_price_set_by_hand_during_a_campaign_survives_its_end(
    product_factory, campaign_factory, manager
):
    from zaplecze.catalog.prices import price_set

    v = product_factory(price="100.00")
    c = campaign_factory([v], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    price_set(Variant.objects.get(pk=v.pk), price="110.00", source="manual", actor=manager)
    c.refresh_from_db()
    services.campaigns_tick(now=c.end + dt.timedelta(seconds=1))
    assert effective_prices([v.pk], "", c.end + dt.timedelta(minutes=1))[v.pk].price == D("110.00")


def test_editing_a_scheduled_campaign_into_errors_sends_it_back_to_draft(
    product_factory, campaign_factory, cost, manager
):
    v = cost(product_factory(price="100.00"), "50.00")
    c = campaign_factory([v])
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    services.campaign_update(campaign_id=c.pk, data={"value": "60"}, actor=manager)
    c.refresh_from_db()
    assert c.status == CampaignStatus.DRAFT
    assert c.events.filter(kind=CampaignEvent.Kind.STATUS, to_status="draft").exists()


def test_price_set_by_hand_after_an_early_end_survives_the_planned_end(
    product_factory, campaign_factory, manager
):
    from zaplecze.catalog.prices import price_set

    v = product_factory(price="100.00")
    c = campaign_factory([v], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    services.campaign_cancel(campaign_id=c.pk, actor=manager, reason="stop")
    price_set(Variant.objects.get(pk=v.pk), price="120.00", source="manual", actor=manager)
    c.refresh_from_db()
    # the campaign's scheduled regular entry (100.00) sits at the planned end ...
    assert effective_prices([v.pk], "", c.end + dt.timedelta(seconds=1))[v.pk].price == D("100.00")
    # ... and the worker writes the hand-set price again once it has passed
    services.campaigns_tick(now=c.end + dt.timedelta(seconds=2))
    c.refresh_from_db()
    assert c.prices_settled
    assert effective_prices([v.pk], "", c.end + dt.timedelta(minutes=1))[v.pk].price == D("120.00")
    assert services.campaign_settle(campaign_id=c.pk) == 0


def test_a_big_campaign_starting_now_is_written_by_the_worker(
    product_factory, campaign_factory, manager, monkeypatch
):
    v = product_factory(price="100.00")
    monkeypatch.setattr(services, "IMMEDIATE_LIMIT", 0)
    c = campaign_factory([v], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    c.refresh_from_db()
    assert c.status == CampaignStatus.SCHEDULED
    assert Variant.objects.get(pk=v.pk).price == D("100.00")
    assert services.campaigns_tick() == {"started": 1, "ended": 0}
    assert Variant.objects.get(pk=v.pk).price == D("80.00")


def test_a_product_taken_out_and_put_back_while_running(product_factory, campaign_factory, manager):
    a = product_factory(price="100.00")
    b = product_factory(price="50.00")
    c = campaign_factory([a, b], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    only_b = [{"kind": "product", "product_id": b.product_id}]
    both = [*only_b, {"kind": "product", "product_id": a.product_id}]
    services.campaign_update(campaign_id=c.pk, data={}, targets=only_b, actor=manager)
    assert Variant.objects.get(pk=a.pk).price == D("100.00")
    services.campaign_update(campaign_id=c.pk, data={}, targets=both, actor=manager)
    assert Variant.objects.get(pk=a.pk).price == D("80.00")
    assert CampaignItem.objects.filter(campaign=c, reverted_at__isnull=True).count() == 2
    c.refresh_from_db()
    services.campaigns_tick(now=c.end + dt.timedelta(seconds=1))
    assert effective_prices([a.pk], "", c.end + dt.timedelta(minutes=1))[a.pk].price == D("100.00")


def test_channel_campaign_writes_the_offer_price_the_feeds_read(
    product_factory, campaign_factory, manager, ingest
):
    from zaplecze.catalog.models import Offer

    ingest()  # the "shop" channel
    v = product_factory(price="100.00")
    w = product_factory(price="100.00")  # no offer on the channel: left out
    Offer.objects.create(variant=v, channel="shop", price=None)
    c = campaign_factory([v, w], channels=["shop"], start=_now() - dt.timedelta(minutes=1))
    services.campaign_launch(campaign_id=c.pk, actor=manager)
    c.refresh_from_db()
    assert Offer.objects.get(variant=v, channel="shop").price == D("80.00")
    assert Variant.objects.get(pk=v.pk).price == D("100.00")  # the base price is untouched
    assert list(CampaignItem.objects.filter(campaign=c).values_list("variant_id", "channel")) == [
        (v.pk, "shop")
    ]
    eff = effective_prices([v.pk], "shop", _now())[v.pk]
    assert (eff.sale_price, eff.regular_price, eff.sale_to) == (D("80.00"), D("100.00"), c.end)
    services.campaigns_tick(now=c.end + dt.timedelta(seconds=1))
    assert effective_prices([v.pk], "shop", c.end + dt.timedelta(minutes=1))[v.pk].price == D("100.00")

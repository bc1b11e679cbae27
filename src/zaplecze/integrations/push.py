"""Stock and prices out to the sales channels: pending pushes recorded on change, drained in batches.

1. Inventory and the catalog announce changes after commit through extension points (they sit below
   integrations and do not import it): ``"inventory.stock_changed"(variant_ids)`` whenever available stock
   (on hand - reserved) may have changed, ``"catalog.prices_changed"(variant_ids, channel)`` whenever the
   price in effect changed ("" = the base price, followed by every channel without a price of its own).
   A rolled-back transaction announces nothing (`core.aftercommit`).
2. `pending_add` (registered at both points in `apps.py`) upserts one `PendingPush(connection, variant,
   what)` per enabled connection whose connector takes that kind of data: a hundred movements of one SKU
   are still one row. When the channel lists offers (catalog `Offer` rows), only variants offered there are
   queued; a channel without any offer rows gets every variant.
3. `push_drain` (every minute from the worker, and on demand) takes a connection's due rows in batches of
   `BATCH`, reads the values *at push time* (available stock from inventory, the effective price on the
   connection's channel from `catalog.omnibus.effective_prices`) and sends them with the connector's
   `push_items` (one call per SKU and kind at most; connectors without it are called per SKU). Each batch
   is one SyncRun of kind "push" with its counts.
   * sent: the row is deleted, unless it changed again meanwhile (then the next run sends the new value);
     an open error of that SKU is resolved;
   * not on the platform: reported once as a SyncError "sku:<SKU>" (a repeat counts an attempt on the same
     error) and the row is dropped, not retried for ever; the next change of that SKU tries again;
   * failed (5xx after the HTTP client's retries, 4xx, 429 after waiting): the row stays with
     `next_try_at` backing off (1, 2, 5, 15, 30, 60 minutes), the error is kept (its Retry button queues the
     SKU again and pushes at once); a new change of the SKU makes it due again;
   * credentials refused: the run stops, the connection is marked and staff alerted (as for imports).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from zaplecze.catalog.models import Offer, Variant
from zaplecze.catalog.omnibus import effective_prices
from zaplecze.inventory.selectors import available_by_variant

from . import sync
from .connectors import CONNECTORS
from .connectors.base import AuthFailed, ConnectorError
from .models import Connection, ConnectionStatus, PendingPush, SyncError, SyncRun

log = logging.getLogger("zaplecze.integrations")

BATCH = 200
BACKOFF_MINUTES = (1, 2, 5, 15, 30, 60)
STOCK, PRICE = PendingPush.What.STOCK.value, PendingPush.What.PRICE.value
SUPPORTS = {STOCK: "supports_stock", PRICE: "supports_prices"}


# --- recording ----------------------------------------------------------------------------------------


def _takes(platform: str, what: str) -> bool:
    cls = CONNECTORS.get(platform)
    return bool(cls and getattr(cls, SUPPORTS[what], False))


def connections_taking(what: str, *, channel: str = "") -> list[Connection]:
    """Enabled connections whose connector takes `what`; `channel` limits them to that channel's one."""
    qs = Connection.objects.select_related("channel").filter(enabled=True)
    if channel:
        qs = qs.filter(channel__code=channel)
    return [c for c in qs if _takes(c.platform, what)]


def _offered(connection: Connection, variant_ids: list[int] | None) -> list[int] | None:
    """The variants to push to this connection: those offered on its channel when it has offer rows,
    otherwise all of `variant_ids` (None = every variant)."""
    offers = Offer.objects.filter(channel=connection.channel.code)
    if not offers.exists():
        return variant_ids
    offers = offers.filter(active=True)
    if variant_ids is not None:
        offers = offers.filter(variant_id__in=variant_ids)
    return list(offers.values_list("variant_id", flat=True))


def pending_add(
    variant_ids: list[int] | None,
    *,
    whats: tuple[str, ...],
    channel: str = "",
    connections: list[Connection] | None = None,
) -> int:
    """Queue pushes of `whats` for these variants (None: every variant) to every connection taking them
    (or to `connections`). Upserts: a queued row only gets a new `changed_at` and becomes due at once."""
    now = timezone.now()
    rows: list[PendingPush] = []
    for what in whats:
        targets = connections if connections is not None else connections_taking(what, channel=channel)
        for connection in targets:
            if not _takes(connection.platform, what):
                continue
            ids = _offered(connection, variant_ids)
            if ids is None:
                ids = list(Variant.objects.filter(active=True).exclude(sku="").values_list("pk", flat=True))
            rows += [
                PendingPush(connection=connection, variant_id=v, what=what, changed_at=now) for v in set(ids)
            ]
    if not rows:
        return 0
    with transaction.atomic():
        PendingPush.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["connection", "variant", "what"],
            update_fields=["changed_at", "next_try_at"],
        )
    return len(rows)


def on_stock_changed(variant_ids: list[int]) -> None:
    """At "inventory.stock_changed" (after commit)."""
    pending_add(variant_ids, whats=(STOCK,))


def on_prices_changed(variant_ids: list[int], channel: str = "") -> None:
    """At "catalog.prices_changed" (after commit); "" = the base price, which every channel may follow."""
    pending_add(variant_ids, whats=(PRICE,), channel=channel)


# --- draining -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: int = 0
    not_found: int = 0
    failed: int = 0
    batches: int = 0


def price_item(eff) -> dict:
    """{"regular", "sale"} for a connector from an `EffectivePrice`: during a promotion the regular price
    and the promotional one, otherwise the price in effect and no sale."""
    sale = eff.sale_price if eff.sale_price is not None and eff.sale_price != eff.regular_price else None
    if sale is None:
        return {"regular": str(eff.price), "sale": None}
    return {"regular": str(eff.regular_price), "sale": str(sale)}


def _due(connection: Connection, now: dt.datetime, started: dt.datetime):
    return (
        PendingPush.objects.filter(connection=connection, changed_at__lte=started)
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
        .select_related("variant")
        .order_by("id")
    )


def due_count(connection_id: int, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return (
        PendingPush.objects.filter(connection_id=connection_id)
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
        .count()
    )


def _send(connector, items: list[dict]) -> dict[str, bool | ConnectorError]:
    if hasattr(connector, "push_items"):
        return connector.push_items(items)
    out: dict[str, bool | ConnectorError] = {}
    for item in items:
        try:
            ok = True
            if "quantity" in item:
                ok = connector.push_stock(sku=item["sku"], quantity=item["quantity"])
            if ok and "regular" in item:
                ok = connector.push_price(sku=item["sku"], regular=item["regular"], sale=item.get("sale"))
            out[item["sku"]] = ok
        except AuthFailed:
            raise
        except ConnectorError as exc:
            out[item["sku"]] = exc
    return out


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def _error_key(sku: str) -> str:
    return f"sku:{sku}"[:100]


def _batch(connection: Connection, connector, rows: list[PendingPush], run: SyncRun, now, tally: Outcome):
    by_variant: dict[int, list[PendingPush]] = {}
    for row in rows:
        by_variant.setdefault(row.variant_id, []).append(row)
    drop = [r.pk for r in rows if not r.variant.sku or not _takes(connection.platform, r.what)]
    PendingPush.objects.filter(pk__in=drop).delete()
    rows = [r for r in rows if r.pk not in set(drop)]
    stock_ids = sorted({r.variant_id for r in rows if r.what == STOCK})
    price_ids = sorted({r.variant_id for r in rows if r.what == PRICE})
    available = available_by_variant(stock_ids) if stock_ids else {}
    prices = effective_prices(price_ids, connection.channel.code, now) if price_ids else {}
    items: dict[int, dict] = {}
    for r in rows:
        item = items.setdefault(r.variant_id, {"sku": r.variant.sku})
        if r.what == STOCK:
            item["quantity"] = max(0, int(available.get(r.variant_id, 0)))
        elif r.variant_id in prices:
            item.update(price_item(prices[r.variant_id]))
    results = _send(connector, [i for i in items.values() if len(i) > 1])
    done_ids, resolved = [], []
    for vid, item in items.items():
        result = results.get(item["sku"], False) if len(item) > 1 else True
        mine = [r for r in by_variant[vid] if r.pk not in set(drop)]
        if result is True:
            done_ids += [(r.pk, r.changed_at) for r in mine]
            resolved.append(_error_key(item["sku"]))
            tally.sent += 1
        elif result is False:
            done_ids += [(r.pk, r.changed_at) for r in mine]
            tally.not_found += 1
            sync._error_keep(
                connection,
                run,
                _error_key(item["sku"]),
                f"{item['sku']}: no product or variant with this SKU on the platform; not pushed",
                json.dumps({"push": sorted(r.what for r in mine), "sku": item["sku"], "variant_id": vid}),
            )
        else:
            tally.failed += 1
            for r in mine:
                PendingPush.objects.filter(pk=r.pk).update(
                    attempts=r.attempts + 1,
                    next_try_at=now + _backoff(r.attempts + 1),
                    last_error=str(result)[:2000],
                )
            sync._error_keep(
                connection,
                run,
                _error_key(item["sku"]),
                f"{item['sku']}: {result}",
                json.dumps({"push": sorted(r.what for r in mine), "sku": item["sku"], "variant_id": vid}),
            )
    for pk, changed_at in done_ids:  # a row that changed meanwhile stays for the next run
        PendingPush.objects.filter(pk=pk, changed_at=changed_at).delete()
    if resolved:
        SyncError.objects.filter(
            connection=connection, external_id__in=resolved, state=SyncError.State.OPEN
        ).update(state=SyncError.State.RESOLVED, resolved_at=timezone.now())


def push_drain(
    connection: Connection,
    connector,
    *,
    now: dt.datetime | None = None,
    max_batches: int | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> SyncRun:
    """Send what is due for one connection (see the module doc). Holds the connection's run lock; another
    run going -> a SKIPPED run. Rows that change during the run are left for the next one; with
    `max_batches`, what is left after that many batches waits for the next run. `progress` is called with
    the running tally after each batch."""
    token = sync.lock_acquire(connection.pk)
    if token is None:
        return SyncRun.objects.create(
            connection=connection,
            kind=SyncRun.Kind.PUSH,
            outcome=SyncRun.Outcome.SKIPPED,
            finished_at=timezone.now(),
        )
    started = timezone.now()
    now = now or started
    run = SyncRun.objects.create(connection=connection, kind=SyncRun.Kind.PUSH, started_at=started)
    tally = Outcome()
    try:
        while max_batches is None or tally.batches < max_batches:
            rows = list(_due(connection, now, max(started, now))[:BATCH])
            if not rows:
                break
            tally.batches += 1
            try:
                _batch(connection, connector, rows, run, now, tally)
            except AuthFailed as exc:
                sync._finish(run, SyncRun.Outcome.FAILED, str(exc))
                sync.connection_auth_failed(connection, str(exc))
                return _counts(run, tally, len(rows))
            except ConnectorError as exc:  # the batch as a whole (e.g. the SKU map could not be read)
                ids = [r.pk for r in rows]
                for r in rows:
                    PendingPush.objects.filter(pk=r.pk).update(
                        attempts=r.attempts + 1,
                        next_try_at=now + _backoff(r.attempts + 1),
                        last_error=str(exc)[:2000],
                    )
                sync._finish(run, SyncRun.Outcome.FAILED, str(exc))
                sync.connection_failing(connection, str(exc))
                log.info("push to %s failed for %s rows: %s", connection.pk, len(ids), exc)
                return _counts(run, tally, len(rows))
            sync.lock_extend(connection.pk, token)
            if progress is not None:
                progress(tally)
        _counts(run, tally)
        outcome = SyncRun.Outcome.PARTIAL if tally.failed or tally.not_found else SyncRun.Outcome.OK
        sync._finish(run, outcome, "")
        if tally.sent and connection.status == ConnectionStatus.FAILING:
            Connection.objects.filter(pk=connection.pk, status=ConnectionStatus.FAILING).update(
                status=ConnectionStatus.OK, updated_at=timezone.now()
            )
        return run
    except Exception as exc:
        log.exception("push to %s failed", connection.pk)
        _counts(run, tally)
        sync._finish(run, SyncRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        return run
    finally:
        sync.lock_release(connection.pk, token)


def _counts(run: SyncRun, tally: Outcome, failed_rows: int = 0) -> SyncRun:
    SyncRun.objects.filter(pk=run.pk).update(
        pages=tally.batches,
        fetched=tally.sent + tally.not_found + tally.failed + failed_rows,
        updated=tally.sent,
        errors=tally.failed + tally.not_found + failed_rows,
    )
    run.refresh_from_db()
    return run

"""Writes the planned demo shop into the database.

The catalogue goes through `catalog.services.product_create`; open orders reserve stock through
`inventory.services.stock_reserve`. A year of history is written in batches, with the same rows the
services write (orders and lines from `orders.services._order_values`, search tokens from
`orders.services._tokens`, order events, audit entries, reservations, `sale` stock movements), but with
the historical times of each event instead of "now": process mining reads this log.

The whole build is one transaction: it finishes or leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from types import SimpleNamespace

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import Count
from django.utils import timezone

from zaplecze.analytics.demo import demo_traffic_generate
from zaplecze.catalog.models import Variant
from zaplecze.catalog.services import category_get_or_create, product_create
from zaplecze.core.businesstime import ship_by as compute_ship_by
from zaplecze.core.businesstime import tz as shop_tz
from zaplecze.core.errors import DomainError
from zaplecze.core.models import AuditEntry
from zaplecze.core.services import job_create
from zaplecze.inventory import services as stock
from zaplecze.inventory.models import Location, Reservation, StockLevel, StockMovement, Warehouse
from zaplecze.monitoring import demo as monitoring_demo
from zaplecze.orders import services as order_services
from zaplecze.orders.models import (
    HOLDING_STAGES,
    Channel,
    Customer,
    Order,
    OrderEvent,
    OrderLine,
    OrderSearchToken,
    OrderStatus,
    Stage,
    Tag,
)
from zaplecze.orders.schemas import OrderIn
from zaplecze.purchasing import demo as purchasing_demo
from zaplecze.purchasing.tasks import reorder_compute_job
from zaplecze.today.services import exceptions_refresh

from .catalog_extras import seed_catalogue_extras
from .plan import CHANNELS, Calendar, OrderPlan, plan_shop
from .today_extras import seed_today_situations

CHUNK = 1000
EVENT_KIND = {
    "status": OrderEvent.Kind.STATUS,
    "cancel": OrderEvent.Kind.STATUS,
    "return": OrderEvent.Kind.STATUS,
    "payment": OrderEvent.Kind.PAYMENT,
}


class Progress:
    """A progress bar on a terminal (click's), silent otherwise."""

    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled:
            import click

            self.bar = click.progressbar(length=total, label="Demo shop", file=sys.stderr, show_eta=True)
            self.bar.__enter__()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def build_demo(
    *,
    orders: int = 20000,
    days: int = 365,
    seed: int = 42,
    progress: bool = False,
    now: dt.datetime | None = None,
    echo: Callable[[str], None] | None = None,
    queue_forecast: bool = False,
    traffic: bool = False,
) -> dict:
    if orders < 1 or days < 1:
        raise DomainError("The demo needs at least one order and one day", field="orders")
    if Order.objects.exists() or Variant.objects.exists():
        raise DomainError(
            "The database already has orders or products: the demo shop is built only into an "
            "empty database (use a fresh ZAPLECZE_DATA_DIR or database)",
            code="not_empty",
        )
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise DomainError("now must be timezone-aware", field="now")
    t0 = time.monotonic()
    tz = shop_tz()
    timings: dict[str, float] = {}
    rng, products, _customers, plans = plan_shop(orders=orders, days=days, seed=seed, now=now, tz=tz)
    timings["plan"] = time.monotonic() - t0
    with transaction.atomic():
        mark = time.monotonic()
        variants = _write_catalogue(products)
        # Manufacturers (GPSR), descriptions, a few images and offers per channel for the product pages.
        catalogue_extras = seed_catalogue_extras(products, seed=seed)
        warehouses = _warehouses()
        timings["catalogue"] = time.monotonic() - mark

        mark = time.monotonic()
        writer = _Writer(variants=variants)
        bar = Progress(progress, len(plans))
        try:
            for start in range(0, len(plans), CHUNK):
                writer.write(plans[start : start + CHUNK])
                bar.update(min(CHUNK, len(plans) - start))
        finally:
            bar.close()
        timings["orders"] = time.monotonic() - mark

        mark = time.monotonic()
        movements = _replay_stock(writer, products, variants, warehouses, rng, now, Calendar(tz))
        short = _reserve_open(writer)
        bins = _bins(warehouses)
        timings["stock"] = time.monotonic() - mark

        mark = time.monotonic()
        # Suppliers, supplier items and purchase orders; reorder points are computed by the worker's
        # forecast job (queued below), which takes longer than the rest of the demo.
        purchasing = purchasing_demo.seed_demo(seed=seed, forecast=False, now=now)
        timings["purchasing"] = time.monotonic() - mark
        # Storefront checks of the app's own pages with three days of results (Shop health).
        monitoring_demo.seed_demo(seed=seed, now=now)
        # A complaint close to its answer deadline and a parcel the carrier could not deliver (Today).
        today_situations = seed_today_situations(now=now)
    if queue_forecast:
        _queue_forecast()
    if traffic:
        # Visits for the last 30 days' orders (about 2% of visits buy), written to the analytics store.
        mark = time.monotonic()
        timings["traffic_events"] = demo_traffic_generate(days=30)
        timings["traffic"] = time.monotonic() - mark
    # Fill the Today page now rather than at the worker's first run: what needs someone in the demo shop.
    found = exceptions_refresh(now=now)
    by_stage = dict(sorted(Order.objects.values("stage").annotate(n=Count("id")).values_list("stage", "n")))
    stats = {
        "orders": len(plans),
        "products": len(products),
        "variants": len(variants),
        "customers": writer.customers_created,
        "events": writer.events_created,
        "stock_movements": movements,
        "stock_short_orders": short,
        "bins": bins,
        "purchasing": purchasing,
        "catalogue": catalogue_extras,
        "by_stage": by_stage,
        "today": {"situations": today_situations, "exceptions_opened": found.opened},
        "seed": seed,
        "seconds": round(time.monotonic() - t0, 2),
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }
    if echo:
        echo(
            f"Demo shop: {stats['orders']} orders, {stats['products']} products, {stats['customers']} customers "
            f"in {stats['seconds']} s"
        )
    return stats


# --- catalogue and warehouses ---------------------------------------------------------------------


def _write_catalogue(products) -> dict[str, Variant]:
    categories = {}
    for p in products:
        if (p.root, p.leaf) not in categories:
            root = category_get_or_create(name=p.root)
            categories[(p.root, p.leaf)] = category_get_or_create(name=p.leaf, parent=root)
        product_create(
            name=p.name,
            category=categories[(p.root, p.leaf)],
            brand=p.brand,
            actor=None,
            variants=[
                {
                    "sku": v.sku,
                    "ean": v.ean,
                    "name": v.name,
                    "price": v.price,
                    "vat_rate": v.vat_rate,
                    "cost_price": v.cost_price,
                    "weight_kg": v.weight_kg,
                }
                for v in p.variants
            ],
        )
    return {v.sku: v for v in Variant.objects.all()}


def _warehouses() -> list[Warehouse]:
    main = stock.warehouse_default()
    second, _ = Warehouse.objects.get_or_create(
        code="FUL", defaults={"name": "Magazyn zewnętrzny (fulfilment)", "priority": main.priority + 10}
    )
    return [main, second]


def _bins(warehouses: list[Warehouse]) -> int:
    """Shelf locations (aisle-rack-shelf) in each warehouse, and every stock level given one, in SKU order,
    so pick lists walk the shelves."""
    created = 0
    for warehouse in warehouses:
        codes = [
            f"{aisle}-{rack:02d}-{shelf}" for aisle in "ABCD" for rack in range(1, 11) for shelf in (1, 2, 3)
        ]
        Location.objects.bulk_create(
            [Location(warehouse=warehouse, code=code, sort_order=i) for i, code in enumerate(codes)]
        )
        locations = list(Location.objects.filter(warehouse=warehouse).order_by("sort_order"))
        created += len(locations)
        levels = list(StockLevel.objects.filter(warehouse=warehouse).order_by("variant__sku"))
        for i, level in enumerate(levels):
            level.location = locations[i * len(locations) // max(len(levels), 1)]
        StockLevel.objects.bulk_update(levels, ["location"], batch_size=500)
    return created


def _queue_forecast() -> None:
    """Ask the worker to compute forecasts and reorder points for the demo (a job with progress)."""
    job = job_create(kind="purchasing.forecast", title="Recompute reorder points", owner=None)
    reorder_compute_job(job.pk)


# --- fast inserts ---------------------------------------------------------------------------------


class _Table:
    """Rows for one model, inserted with `executemany`: the same columns and values Django would write
    (each value adapted by the field's own backend adapter), without building ~600,000 model objects."""

    def __init__(self, model, *, with_id: bool = False):
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if with_id or not f.primary_key]
        qn = connection.ops.quote_name
        cols = ", ".join(qn(f.column) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        self.sql = f"INSERT INTO {qn(meta.db_table)} ({cols}) VALUES ({marks})"  # noqa: S608 (model metadata)
        self.copy_sql = f"COPY {qn(meta.db_table)} ({cols}) FROM STDIN"
        # A column left out gets what Django would give it: the field's default (called per row if callable).
        self.columns = [(f.attname, self._adapter(f), f.get_default) for f in self.fields]
        self.rows: list[tuple] = []

    @staticmethod
    def _adapter(field):
        db = connections[DEFAULT_DB_ALIAS]  # the real connection, not the thread-local proxy (it is hot here)
        ops = db.ops
        if isinstance(field, models.DateTimeField):
            if db.vendor == "sqlite":  # what SQLite's adapt_datetimefield_value does (naive UTC, str)
                return lambda v: str(v.astimezone(dt.UTC).replace(tzinfo=None))
            return ops.adapt_datetimefield_value
        if isinstance(field, models.DecimalField):
            return lambda v, _f=field: ops.adapt_decimalfield_value(v, _f.max_digits, _f.decimal_places)
        if isinstance(field, models.JSONField):
            return lambda v, _f=field: ops.adapt_json_value(v, _f.encoder)
        return None

    def add(self, **values) -> None:
        row = []
        for name, adapt, default in self.columns:
            v = values[name] if name in values else default()
            row.append(v if adapt is None or v is None else adapt(v))
        self.rows.append(tuple(row))

    def flush(self) -> int:
        n = len(self.rows)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # COPY: the same rows, several times faster than INSERTs
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                for start in range(0, n, 5000):
                    cursor.executemany(self.sql, self.rows[start : start + 5000])
        self.rows = []
        return n


def _next_ids(model, n: int) -> list[int]:
    """Take `n` primary keys for rows inserted with explicit ids (the sequence on PostgreSQL; past the
    largest id on SQLite, whose IMMEDIATE transaction holds the write lock)."""
    if n == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n]
            )
            return sorted(r[0] for r in cursor.fetchall())
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + n))


# --- orders ---------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, *, variants: dict[str, Variant]):
        self.variants = dict(variants)
        self.variants.update({v.ean: v for v in variants.values() if v.ean})
        self.channels = {c.code: c for c in Channel.objects.all()}
        for code, _share in CHANNELS:  # a shop may have removed a default channel: the demo needs it back
            if code not in self.channels:
                self.channels[code] = order_services.channel_save(code=code, name=code.title(), kind=code)
        self.statuses = {s.code: s for s in OrderStatus.objects.all()}
        self.customer_ids: dict[str, int] = {}
        self.tag_ids: dict[str, int] = {}
        self.customers_created = 0
        self.events_created = 0
        # for the stock replay
        self.shipped_lines: list[tuple[int, int, int, str, dt.datetime, dt.datetime]] = []
        self.released_lines: list[tuple[int, int, int, dt.datetime, dt.datetime]] = []
        self.open_orders: list[tuple[int, dt.datetime, list[tuple[int, int]]]] = []
        self.t_customer = _Table(Customer, with_id=True)
        self.t_order = _Table(Order, with_id=True)
        self.t_line = _Table(OrderLine, with_id=True)
        self.t_event = _Table(OrderEvent)
        self.t_token = _Table(OrderSearchToken)
        self.t_tag = _Table(Order.tags.through)
        self.t_audit = _Table(AuditEntry)

    def status(self, code: str) -> OrderStatus:
        status = self.statuses.get(code)
        if status is None:  # the shop renamed its statuses: use the default one of the stage
            status = order_services.status_for(stage=code if code in Stage.values else Stage.IN_FULFILMENT)
            self.statuses[code] = status
        return status

    def write(self, plans: list[OrderPlan]) -> None:
        built = []
        new_customers: dict[str, tuple[OrderIn, dt.datetime]] = {}
        for plan in plans:
            data = OrderIn.model_validate(plan.payload)
            final = self.status(plan.payload["status"])
            values, line_values, attention = order_services._order_values(
                data, self.channels[data.channel], final, variants=self.variants
            )
            if data.email and data.email not in self.customer_ids and data.email not in new_customers:
                new_customers[data.email] = (data, plan.created_at)
            built.append((plan, data, final, values, line_values, attention))
        for pk, (email, (data, created)) in zip(
            _next_ids(Customer, len(new_customers)), new_customers.items(), strict=True
        ):
            self.t_customer.add(
                id=pk,
                type=data.customer_type,
                name=data.customer_name,
                company=data.company,
                nip=data.nip,
                email=email,
                phone=data.phone,
                created_at=created,
            )
            self.customer_ids[email] = pk
        self.customers_created += self.t_customer.flush()

        order_ids = _next_ids(Order, len(built))
        line_ids = iter(_next_ids(OrderLine, sum(len(b[4]) for b in built)))
        for pk, (plan, data, final, values, line_values, attention) in zip(order_ids, built, strict=True):
            channel = self.channels[data.channel]
            values = dict(values)
            values["status_id"] = values.pop("status").pk
            last_at = max([plan.created_at, *(s.at for s in plan.steps)])
            row = dict(
                id=pk,
                channel_id=channel.pk,
                external_id=data.external_id,
                customer_id=self.customer_ids.get(data.email),
                source_hash=order_services._fingerprint(data),
                ship_by=compute_ship_by(data.placed_at, channel.ship_within_hours),
                shipped_at=plan.shipped_at,
                delivered_at=plan.delivered_at,
                created_at=plan.created_at,
                updated_at=last_at,
                version=1 + sum(1 for s in plan.steps if s.status),
                needs_attention=bool(attention),
                attention_reasons=attention,
                internal_notes="",
                **values,
            )
            self.t_order.add(**row)
            lines = []
            for ln in line_values:
                ln = dict(ln)
                variant = ln.pop("variant")
                line = {
                    "id": next(line_ids),
                    "order_id": pk,
                    "variant_id": variant.pk if variant else None,
                    **ln,
                }
                self.t_line.add(**line)
                lines.append(line)
            self._events(pk, row, plan, lines)
            self._audits(pk, row, plan)
            order_view = SimpleNamespace(
                **{
                    k: row[k]
                    for k in ("number", "external_id", "customer_name", "company", "nip", "email", "phone")
                }
            )
            for token in sorted(order_services._tokens(order_view, [ln["sku"] for ln in line_values])):
                self.t_token.add(order_id=pk, token=token)
            for name in dict.fromkeys(data.tags):
                self.t_tag.add(order_id=pk, tag_id=self._tag(name))
            if final.stage in HOLDING_STAGES:
                self.open_orders.append(
                    (
                        pk,
                        plan.created_at,
                        [(ln["variant_id"], ln["quantity"]) for ln in lines if ln["variant_id"]],
                    )
                )
        self.t_order.flush()
        self.t_line.flush()
        self.events_created += self.t_event.flush()
        self.t_token.flush()
        self.t_tag.flush()
        self.t_audit.flush()

    def _tag(self, name: str) -> int:
        if name not in self.tag_ids:
            self.tag_ids[name] = Tag.objects.get_or_create(name=name)[0].pk
        return self.tag_ids[name]

    def _events(self, order_id: int, row: dict, plan: OrderPlan, lines: list[dict]) -> None:
        label = plan.channel
        current = self.status(plan.initial_status)
        add = self.t_event.add
        blank = {
            "actor_id": None,
            "from_status": "",
            "to_status": "",
            "from_stage": "",
            "to_stage": "",
            "message": "",
            "data": {},
        }
        add(
            **{
                **blank,
                "order_id": order_id,
                "at": plan.created_at,
                "kind": OrderEvent.Kind.CREATED,
                "actor_label": label,
                "to_status": current.code,
                "to_stage": current.stage,
                "data": {"source": label},
            }
        )
        stocked = [ln for ln in lines if ln["variant_id"]]
        units = sum(ln["quantity"] for ln in stocked)
        for step in plan.steps:
            if step.kind == "payment":
                add(
                    **{
                        **blank,
                        "order_id": order_id,
                        "at": step.at,
                        "kind": OrderEvent.Kind.PAYMENT,
                        "actor_label": step.actor,
                        "message": step.message,
                        "data": {"method": row["payment_method"]},
                    }
                )
                continue
            target = self.status(step.status)
            add(
                **{
                    **blank,
                    "order_id": order_id,
                    "at": step.at,
                    "kind": EVENT_KIND[step.kind],
                    "actor_label": step.actor,
                    "from_status": current.code,
                    "to_status": target.code,
                    "from_stage": current.stage,
                    "to_stage": target.stage,
                    "message": step.message,
                }
            )
            if current.stage in HOLDING_STAGES and units:
                if target.stage == Stage.CANCELLED:
                    add(
                        **{
                            **blank,
                            "order_id": order_id,
                            "at": step.at,
                            "kind": OrderEvent.Kind.STOCK_RELEASED,
                            "actor_label": step.actor,
                            "data": {"units": units},
                        }
                    )
                    self.released_lines += [
                        (ln["variant_id"], ln["quantity"], ln["id"], plan.created_at, step.at)
                        for ln in stocked
                    ]
                elif target.stage not in HOLDING_STAGES:
                    add(
                        **{
                            **blank,
                            "order_id": order_id,
                            "at": step.at,
                            "kind": OrderEvent.Kind.STOCK_ISSUED,
                            "actor_label": step.actor,
                            "data": {"units": units},
                        }
                    )
                    self.shipped_lines += [
                        (ln["variant_id"], ln["quantity"], ln["id"], row["number"], plan.created_at, step.at)
                        for ln in stocked
                    ]
            current = target

    def _audits(self, order_id: int, row: dict, plan: OrderPlan) -> None:
        key = {"object_type": "orders.order", "object_id": str(order_id), "actor_id": None}
        current = self.status(plan.initial_status)
        self.t_audit.add(
            at=plan.created_at,
            actor_label=plan.channel,
            action="created",
            reason="",
            **key,
            changes={
                "number": [None, row["number"]],
                "status": [None, current.code],
                "total_gross": [None, str(row["total_gross"])],
            },
        )
        for step in plan.steps:
            if not step.status:
                continue
            target = self.status(step.status)
            self.t_audit.add(
                at=step.at,
                actor_label=step.actor,
                action="status_changed",
                reason=step.message,
                changes={"status": [current.code, target.code], "stage": [current.stage, target.stage]},
                **key,
            )
            current = target


# --- stock ----------------------------------------------------------------------------------------


def _receipt_time(rng: random.Random, cal: Calendar, after: dt.datetime) -> dt.datetime:
    local = cal.next_work(after.astimezone(cal.tz))
    return (local + dt.timedelta(minutes=rng.uniform(60, 300))).astimezone(dt.UTC)


def _replay_stock(
    writer: _Writer,
    products,
    variants: dict[str, Variant],
    warehouses: list[Warehouse],
    rng: random.Random,
    now: dt.datetime,
    cal: Calendar,
) -> int:
    """Replay the year in the stock ledger: supplier deliveries (receipts) whenever stock runs low, a
    `sale` movement for every shipped line, reservations issued or released as the orders moved. The
    levels end where the ledger ends; open orders then reserve through inventory.services."""
    main, second = warehouses
    plans = {v.sku: v for p in products for v in p.variants}
    sales: dict[int, list[tuple[dt.datetime, int, int, str]]] = defaultdict(list)
    for variant_id, qty, line_pk, number, _created, shipped in writer.shipped_lines:
        sales[variant_id].append((shipped, qty, line_pk, number))
    open_demand: dict[int, int] = defaultdict(int)
    for _pk, _created, lines in writer.open_orders:
        for variant_id, qty in lines:
            open_demand[variant_id] += qty
    first_day = min((s[0] for lst in sales.values() for s in lst), default=now) - dt.timedelta(days=2)
    span_days = max(1.0, (now - first_day).total_seconds() / 86400)
    movements: list[tuple] = []  # (at, variant, warehouse, kind, quantity, on_hand_after, reason, reference)
    levels: list[StockLevel] = []
    doc = 0

    for sku in sorted(variants):
        variant, vp = variants[sku], plans[sku]
        history = sorted(sales.get(variant.pk, []))
        sold = sum(q for _t, q, _pk, _n in history)
        daily = sold / span_days
        reorder_point = math.ceil(daily * 10) + 2
        batch = max(5, math.ceil(daily * 30 / 5) * 5)
        on_hand = 0
        pending: list[tuple[dt.datetime, int]] = []

        last_at = first_day

        def receive(at: dt.datetime, qty: int, *, _variant=variant, _vp=vp) -> None:
            # never before the variant's previous movement: the ledger's running total stays in time order
            nonlocal on_hand, doc, last_at
            at = min(max(at, last_at), now)
            last_at = at
            doc += 1
            on_hand += qty
            movements.append(
                (
                    at,
                    _variant.pk,
                    main.pk,
                    StockMovement.Kind.RECEIPT,
                    qty,
                    on_hand,
                    f"Dostawa: {_vp.brand}",
                    f"PZ/{at.astimezone(cal.tz):%Y/%m}/{doc:05d}",
                )
            )

        receive(_receipt_time(rng, cal, first_day), batch + reorder_point)
        stop_restock = now - dt.timedelta(days=45)
        for at, qty, line_pk, number in history:
            while pending and pending[0][0] <= at:
                receive(*pending.pop(0))
            if on_hand < qty:  # an urgent delivery before the parcel could go out
                urgent = qty - on_hand if not vp.restocked and at > stop_restock else max(batch, qty)
                receive(at - dt.timedelta(hours=2), urgent)
            on_hand -= qty
            last_at = at
            movements.append(
                (
                    at,
                    variant.pk,
                    main.pk,
                    StockMovement.Kind.SALE,
                    -qty,
                    on_hand,
                    f"order {number}",
                    f"order-line:{line_pk}",
                )
            )
            restock = vp.restocked or at <= stop_restock
            if restock and on_hand <= reorder_point and not pending:
                pending.append((_receipt_time(rng, cal, at + dt.timedelta(days=rng.uniform(2, 6))), batch))
        for arrival, qty in pending:
            if arrival <= now:
                receive(arrival, qty)
        # open orders should mostly find their stock: top up what they need (restocked items only)
        need = open_demand.get(variant.pk, 0)
        if vp.restocked and on_hand < need + reorder_point // 2:
            recent = now - dt.timedelta(days=3)
            receive(_receipt_time(rng, cal, recent) if recent > first_day else now, need + batch)
        levels.append(StockLevel(variant=variant, warehouse=main, on_hand=on_hand))
        if vp.popularity > 0.004 or rng.random() < 0.2:  # bestsellers and some others also in fulfilment
            qty = max(5, batch // 2)
            at = _receipt_time(rng, cal, first_day)
            movements.append(
                (
                    at,
                    variant.pk,
                    second.pk,
                    StockMovement.Kind.RECEIPT,
                    qty,
                    qty,
                    "Przyjęcie do fulfilmentu",
                    f"PZ/FUL/{at.astimezone(cal.tz):%Y}/{variant.pk:05d}",
                )
            )
            levels.append(StockLevel(variant=variant, warehouse=second, on_hand=qty))
    movements.sort(key=lambda m: m[0])
    StockLevel.objects.bulk_create(levels)
    t_move = _Table(StockMovement)
    for at, variant_id, warehouse_id, kind, qty, after, reason, reference in movements:
        t_move.add(
            at=at,
            variant_id=variant_id,
            warehouse_id=warehouse_id,
            kind=kind,
            quantity=qty,
            on_hand_after=after,
            reason=reason,
            reference=reference,
            actor_id=None,
        )
    t_res = _Table(Reservation)
    for v, q, pk, _n, created, shipped in writer.shipped_lines:
        t_res.add(
            variant_id=v,
            warehouse_id=main.pk,
            reference=f"order-line:{pk}",
            quantity=q,
            state=Reservation.State.ISSUED,
            created_at=created,
            closed_at=shipped,
        )
    for v, q, pk, created, closed in writer.released_lines:
        t_res.add(
            variant_id=v,
            warehouse_id=main.pk,
            reference=f"order-line:{pk}",
            quantity=q,
            state=Reservation.State.RELEASED,
            created_at=created,
            closed_at=closed,
        )
    t_res.flush()
    return t_move.flush()


def _reserve_open(writer: _Writer) -> int:
    """Open orders hold their stock, reserved through inventory.services as intake does (oldest first);
    a line that finds too little stock flags its order, exactly as ingest_order does."""
    ids = [pk for pk, _created, _lines in sorted(writer.open_orders, key=lambda o: (o[1], o[0]))]
    orders = Order.objects.in_bulk(ids)
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=ids).order_by("order_id", "position", "id"):
        lines[line.order_id].append(line)
    short_orders = 0
    for pk in ids:
        order = orders[pk]
        short = order_services._reserve_lines(order, lines[pk])
        if short:
            short_orders += 1
            order.needs_attention = True
            order.attention_reasons = [*order.attention_reasons, *short]
            order.save(update_fields=["needs_attention", "attention_reasons"])
    return short_orders


__all__ = ["build_demo"]

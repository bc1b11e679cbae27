"""Batch intake: `ingest_order()` for many orders at once, with the same result per order, faster.

What is the same as calling `ingest_order()` for each order in turn:
* orders are taken in the given order; upsert by (channel, external id); "created", "updated",
  "unchanged" and "stale" mean what they mean there; an unknown channel or status refuses only that
  order (its result is the DomainError);
* the rows written for a new order: the order (totals, status, ship-by, attention), its lines, stock
  reservations made with conditional UPDATEs (never below zero: a level that moved under us makes
  the batch fall back), the customer (found by e-mail, else phone, and updated as there), tags,
  the CREATED event, the search tokens and the audit entry.

What is faster: runs of consecutive *new* orders are prepared in Python with prefetched channels,
statuses, variants, stock levels and customers, and written with bulk INSERTs in one transaction.
An order that already exists (or repeats one from earlier in the same call) goes through
`ingest_order()` itself, in its place in the sequence; an existing order whose fingerprint is the
stored one is "unchanged" without touching the database. If a bulk run fails for any database
reason, its transaction rolls back and each of its orders is ingested on its own, so every order
stays atomic and nothing is half-written."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from zaplecze.catalog.selectors import variants_by_codes
from zaplecze.core.businesstime import ship_by as compute_ship_by
from zaplecze.core.errors import DomainError
from zaplecze.core.models import AuditEntry, User
from zaplecze.inventory.models import Reservation, StockLevel, Warehouse
from zaplecze.inventory.services import stock_changed

from .models import (
    HOLDING_STAGES,
    Channel,
    Customer,
    Order,
    OrderEvent,
    OrderLine,
    OrderSearchToken,
    OrderStatus,
    Tag,
)
from .schemas import OrderIn
from .services import (
    IngestResult,
    _fingerprint,
    _initial_stage,
    _label,
    _order_values,
    _tokens,
    ingest_order,
    status_for,
)

logger = logging.getLogger(__name__)
BATCH_SIZE = 500


class _Fallback(Exception):
    """A bulk run cannot be applied as prepared; roll it back and ingest its orders one by one."""


@dataclass
class _Item:
    index: int
    data: OrderIn
    channel: Channel
    status: OrderStatus
    fingerprint: str


@dataclass
class _Prepared:
    item: _Item
    order: Order
    lines: list[dict]
    attention: list[dict]
    tokens: list[str]
    customer: Customer | None
    # (line index, variant id, warehouse id, quantity) of each reservation to make
    reserve: list[tuple[int, int, int, int]] = field(default_factory=list)
    line_ids: list[int] = field(default_factory=list)


class _Lookups:
    """Per-call caches of channels and statuses (their errors are cached too)."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel | None] = {}
        self.statuses: dict[tuple, OrderStatus | DomainError] = {}

    def channel(self, code: str) -> Channel:
        if code not in self.channels:
            self.channels[code] = Channel.objects.filter(code=code).first()
        channel = self.channels[code]
        if channel is None:
            raise DomainError(f"Unknown channel {code!r}", field="channel", code="unknown_channel")
        return channel

    def status(self, data: OrderIn) -> OrderStatus:
        # Exactly the resolution ingest_order() does, cached per distinct input.
        if data.status or data.stage:
            key: tuple = ("code", data.status, data.stage if not data.status else (data.stage or None))
        else:
            key = ("stage", _initial_stage(data))
        if key not in self.statuses:
            try:
                if key[0] == "code":
                    self.statuses[key] = status_for(code=key[1], stage=key[2])
                else:
                    self.statuses[key] = status_for(stage=key[1])
            except DomainError as exc:
                self.statuses[key] = exc
        result = self.statuses[key]
        if isinstance(result, DomainError):
            raise result
        return result


class _CustomerBook:
    """`_customer_upsert` for a batch: the same customer is found (by e-mail, else by phone; the oldest
    first) and updated the same way, including customers created earlier in the same batch."""

    def __init__(self, datas: Sequence[OrderIn]):
        emails = {d.email for d in datas if d.email}
        # Orders without an e-mail are matched by phone: every customer with such a phone is needed.
        # (Customers found by e-mail are indexed by their phone too, should their phone change to one.)
        phones = {d.phone for d in datas if d.phone and not d.email}
        self.by_email: dict[str, list[Customer]] = defaultdict(list)
        # phone -> {id(customer): customer} (keyed by id(): unsaved model instances are unhashable)
        self.by_phone: dict[str, dict[int, Customer]] = defaultdict(dict)
        self.rank: dict[int, tuple[int, int]] = {}
        self.new: list[Customer] = []
        self.dirty: dict[int, tuple[Customer, set[str]]] = {}
        q = Q(pk__in=[])
        if emails:
            q |= Q(email__in=emails)
        if phones:
            q |= Q(phone__in=phones)
        if emails or phones:
            for c in Customer.objects.filter(q).order_by("id"):
                self._index(c, (0, c.pk))

    def _index(self, c: Customer, rank: tuple[int, int]) -> None:
        self.rank[id(c)] = rank
        if c.email:
            self.by_email[c.email].append(c)
        if c.phone:
            self.by_phone[c.phone][id(c)] = c

    def upsert(self, data: OrderIn) -> Customer | None:
        if data.email:
            candidates = self.by_email.get(data.email, [])
        elif data.phone:
            candidates = list(self.by_phone.get(data.phone, {}).values())
        else:
            return None
        fields = {
            "type": data.customer_type,
            "name": data.customer_name,
            "company": data.company,
            "nip": data.nip,
            "email": data.email,
            "phone": data.phone,
        }
        if not candidates:
            customer = Customer(**fields)
            self.new.append(customer)
            self._index(customer, (1, len(self.new)))
            return customer
        customer = min(candidates, key=lambda c: self.rank[id(c)])
        changed = [k for k, v in fields.items() if v and getattr(customer, k) != v]
        if "phone" in changed and customer.phone:
            self.by_phone[customer.phone].pop(id(customer), None)
        for k in changed:
            setattr(customer, k, fields[k])
        if "phone" in changed:
            self.by_phone[customer.phone][id(customer)] = customer
        if changed and customer.pk is not None:
            self.dirty.setdefault(customer.pk, (customer, set()))[1].update(changed)
        return customer

    def save(self) -> None:
        if self.new:
            Customer.objects.bulk_create(self.new)
        by_fields: dict[tuple[str, ...], list[Customer]] = defaultdict(list)
        for customer, changed in self.dirty.values():
            by_fields[tuple(sorted(changed))].append(customer)
        for fields, customers in by_fields.items():
            Customer.objects.bulk_update(customers, list(fields))


def ingest_orders_batch(
    items: Sequence[OrderIn], *, actor: User | None = None, source: str = "import"
) -> list[IngestResult | DomainError]:
    """Ingest `items` in order; one result per item: the IngestResult, or the DomainError that refused it."""
    results: list[IngestResult | DomainError | None] = [None] * len(items)
    lookups = _Lookups()
    prepared: list[_Item] = []
    for i, data in enumerate(items):
        try:
            prepared.append(
                _Item(i, data, lookups.channel(data.channel), lookups.status(data), _fingerprint(data))
            )
        except DomainError as exc:
            results[i] = exc
    bulk_ok = connection.features.can_return_rows_from_bulk_insert
    for start in range(0, len(prepared), BATCH_SIZE):
        chunk = prepared[start : start + BATCH_SIZE]
        existing = _existing(chunk)
        touched: set[tuple[int, str]] = set()
        run: list[_Item] = []
        for item in chunk:
            key = (item.channel.pk, item.data.external_id)
            if key in existing or key in touched or not bulk_ok:
                _flush(run, results, actor, source)
                run = []
                order = existing.get(key)
                if order is not None and key not in touched and order.source_hash == item.fingerprint:
                    results[item.index] = IngestResult(order=order, outcome="unchanged")
                else:
                    results[item.index] = _single(item.data, actor, source)
            else:
                run.append(item)
            touched.add(key)
        _flush(run, results, actor, source)
    return results  # type: ignore[return-value]


def _existing(chunk: list[_Item]) -> dict[tuple[int, str], Order]:
    by_channel: dict[int, set[str]] = defaultdict(set)
    for item in chunk:
        by_channel[item.channel.pk].add(item.data.external_id)
    pairs = [(channel_id, ext) for channel_id, ids in by_channel.items() for ext in sorted(ids)]
    qn = connection.ops.quote_name
    table, channel_col, ext_col = qn(Order._meta.db_table), qn("channel_id"), qn("external_id")
    found: list[int] = []
    # One equality pair per OR term: each is a lookup in the (channel, external id) unique index. (With
    # `external_id IN (...)` SQLite's planner may pick the (channel, placed_at) index and scan a channel.)
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), 200):
            part = pairs[start : start + 200]
            where = " OR ".join(f"({channel_col} = %s AND {ext_col} = %s)" for _ in part)
            cursor.execute(
                f"SELECT {qn('id')} FROM {table} WHERE {where}",  # noqa: S608 - fixed names
                [x for pair in part for x in pair],
            )
            found.extend(row[0] for row in cursor.fetchall())
    if not found:
        return {}
    return {(o.channel_id, o.external_id): o for o in Order.objects.filter(pk__in=found)}


def _single(data: OrderIn, actor: User | None, source: str) -> IngestResult | DomainError:
    try:
        return ingest_order(data, actor=actor, source=source)
    except DomainError as exc:
        return exc
    except DatabaseError as exc:
        logger.exception("intake of %s/%s failed", data.channel, data.external_id)
        return DomainError(f"The order could not be saved: {exc}", code="intake_failed")


def _flush(run: list[_Item], results: list, actor: User | None, source: str) -> None:
    if not run:
        return
    try:
        with transaction.atomic():
            created = _create_many(run, actor, _label(actor, source))
    except (DatabaseError, _Fallback) as exc:
        logger.info("bulk intake of %s orders fell back to one by one: %s", len(run), exc)
        for item in run:
            results[item.index] = _single(item.data, actor, source)
        return
    for item, result in zip(run, created, strict=True):
        results[item.index] = result


def _reserve_levels(delta: dict[int, int]) -> None:
    """Add the reserved units to their stock levels with conditional UPDATEs: a level changes only if it
    still has the free stock (on_hand >= reserved + units), 200 levels per statement. A level that does
    not qualify makes the whole run fall back (roll back, then one order at a time)."""
    qn = connection.ops.quote_name
    table, pk, reserved, on_hand = (qn(StockLevel._meta.db_table), qn("id"), qn("reserved"), qn("on_hand"))
    items = sorted(delta.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), 200):
            part = items[start : start + 200]
            case = " ".join(f"WHEN {pk} = %s THEN %s" for _ in part)
            where = " OR ".join(f"({pk} = %s AND {on_hand} >= {reserved} + %s)" for _ in part)
            params = [x for level_pk, qty in part for x in (level_pk, qty)]
            cursor.execute(
                f"UPDATE {table} SET {reserved} = {reserved} + CASE {case} ELSE 0 END WHERE {where}",  # noqa: S608
                params + params,
            )
            if cursor.rowcount != len(part):
                raise _Fallback("a stock level changed during the batch")


# Field types whose Python values the database drivers take as they are (str, int, bool, Decimal, None;
# Django's sqlite3 backend registers the Decimal adapter, psycopg adapts Decimal natively).
_PLAIN_TYPES = frozenset(
    {
        "CharField",
        "TextField",
        "SlugField",
        "EmailField",
        "BooleanField",
        "IntegerField",
        "SmallIntegerField",
        "BigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
        "DecimalField",
    }
)
_INT_KEYS = frozenset({"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField"})


def _field_by_attname(meta, attname: str):
    for f in meta.concrete_fields:
        if f.attname == attname:
            return f
    raise LookupError(attname)


class _Statement:
    """Column list, value preparation and defaults for raw INSERTs into one model's table: values are
    prepared for the driver as bulk_create prepares them, without a model instance and SQL compiler per
    row (the costly part of bulk_create at this volume)."""

    def __init__(self, model, attnames: tuple[str, ...]):
        meta = model._meta
        self.conn = conn = connections[connection.alias]  # the wrapper itself, not the thread-local proxy
        self.given = [_field_by_attname(meta, a) for a in attnames]
        rest = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in attnames]
        self.rest_values = tuple(f.get_db_prep_save(f.get_default(), conn) for f in rest)
        qn = conn.ops.quote_name
        self.table = qn(meta.db_table)
        self.pk_column = qn(meta.pk.column)
        self.columns = ", ".join(qn(f.column) for f in (*self.given, *rest))
        self.width = len(self.given) + len(rest)
        self.preps = []
        for f in self.given:
            internal = f.get_internal_type()
            if internal in _PLAIN_TYPES or (
                f.is_relation and f.target_field.get_internal_type() in _INT_KEYS
            ):
                self.preps.append(None)
            elif internal == "DateTimeField":
                self.preps.append(conn.ops.adapt_datetimefield_value)
            else:
                self.preps.append(lambda v, f=f: f.get_db_prep_save(v, conn))
        self.plain = all(p is None for p in self.preps)

    def params(self, row: tuple) -> tuple:
        if self.plain:
            return (*row, *self.rest_values)
        return (
            *[v if p is None or v is None else p(v) for p, v in zip(self.preps, row, strict=True)],
            *self.rest_values,
        )


def _insert(model, attnames: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT rows (tuples of the `attnames` values; other fields take their defaults) with executemany,
    for tables whose new ids are not needed."""
    if not rows:
        return
    st = _Statement(model, attnames)
    sql = f"INSERT INTO {st.table} ({st.columns}) VALUES ({', '.join(['%s'] * st.width)})"  # noqa: S608
    params = [st.params(row) for row in rows]
    with st.conn.cursor() as cursor:
        for start in range(0, len(params), 5000):
            cursor.executemany(sql, params[start : start + 5000])


def _rows_per_statement(n_fields: int) -> int:
    limit = 999
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    elif connection.vendor == "postgresql":
        limit = 65535
    return max(1, min(500, (limit - 1) // n_fields))


def _insert_returning(model, attnames: tuple[str, ...], rows: list[tuple], key: tuple[str, ...]) -> list[int]:
    """INSERT rows with multi-row INSERT ... RETURNING; returns the new ids in the order of `rows`. The
    returned rows are matched to the given ones by the `key` columns (unique within the call), not by
    position, so nothing depends on the order in which the database returns them."""
    if not rows:
        return []
    st = _Statement(model, attnames)
    key_idx = [attnames.index(k) for k in key]
    key_columns = ", ".join(st.conn.ops.quote_name(_field_by_attname(model._meta, k).column) for k in key)
    one = "(" + ", ".join(["%s"] * st.width) + ")"
    per = _rows_per_statement(st.width)
    ids: list[int] = []
    with st.conn.cursor() as cursor:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            position = {tuple(row[i] for i in key_idx): n for n, row in enumerate(chunk)}
            if len(position) != len(chunk):
                raise _Fallback("duplicate keys in one insert")
            params: list = []
            for row in chunk:
                params.extend(st.params(row))
            cursor.execute(
                f"INSERT INTO {st.table} ({st.columns}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608
                f"RETURNING {st.pk_column}, {key_columns}",
                params,
            )
            returned = cursor.fetchall()
            if len(returned) != len(chunk):
                raise _Fallback("the database returned an unexpected number of rows")
            chunk_ids = [0] * len(chunk)
            for pk, *k in returned:
                chunk_ids[position[tuple(k)]] = pk
            ids.extend(chunk_ids)
    return ids


_LINE_FIELDS = (
    "order_id",
    "position",
    "variant_id",
    "sku",
    "ean",
    "name",
    "quantity",
    "unit_price_gross",
    "vat_rate",
    "total_net",
    "total_gross",
    "external_id",
)


def _create_many(run: list[_Item], actor: User | None, label: str) -> list[IngestResult]:
    codes: set[str] = set()
    for item in run:
        for line in item.data.lines:
            codes.add(line.sku)
            if line.ean:
                codes.add(line.ean)
    variants = variants_by_codes(codes)
    customers = _CustomerBook([item.data for item in run])
    # Stock levels of every variant this run may reserve, locked (PostgreSQL) in a fixed order.
    variant_ids = {v.pk for v in variants.values()}
    levels: dict[tuple[int, int], list[int]] = {}  # (variant, warehouse) -> [level id, on hand, reserved]
    if variant_ids:
        for pk, variant_id, warehouse_id, on_hand, reserved in (
            StockLevel.objects.select_for_update()
            .filter(variant_id__in=variant_ids)
            .order_by("id")
            .values_list("id", "variant_id", "warehouse_id", "on_hand", "reserved")
        ):
            levels[(variant_id, warehouse_id)] = [pk, on_hand, reserved]
    warehouses = list(Warehouse.objects.order_by("-is_default", "priority", "id")) if variant_ids else []
    delta: dict[int, int] = defaultdict(int)

    prepared: list[_Prepared] = []
    for item in run:
        data, channel, status = item.data, item.channel, item.status
        values, line_values, attention = _order_values(data, channel, status, variants=variants)
        now = timezone.now()
        customer = customers.upsert(data)
        order = Order(
            channel=channel,
            external_id=data.external_id,
            source_hash=item.fingerprint,
            ship_by=compute_ship_by(data.placed_at, channel.ship_within_hours),
            created_at=now,
            updated_at=now,
            **values,
        )
        p = _Prepared(
            item=item,
            order=order,
            lines=line_values,
            attention=attention,
            customer=customer,
            tokens=sorted(_tokens(order, [ln["sku"] for ln in line_values])),
        )
        if order.stage in HOLDING_STAGES:
            for idx, line in enumerate(line_values):
                variant = line["variant"]
                if variant is None:
                    continue
                quantity = line["quantity"]
                for wh in warehouses:
                    level = levels.get((variant.pk, wh.pk))
                    if level is not None and level[1] >= level[2] + quantity:
                        level[2] += quantity
                        delta[level[0]] += quantity
                        p.reserve.append((idx, variant.pk, wh.pk, quantity))
                        break
                else:
                    attention.append(
                        {
                            "code": "stock_short",
                            "sku": line["sku"],
                            "message": f"Not enough stock of {line['sku']}: {quantity} unit(s) not reserved",
                        }
                    )
        if attention:
            order.needs_attention = True
            order.attention_reasons = attention
        prepared.append(p)

    customers.save()
    order_fields = tuple(f.attname for f in Order._meta.concrete_fields if not f.primary_key)
    for p in prepared:
        if p.customer is not None:
            p.order.customer = p.customer
    order_ids = _insert_returning(
        Order,
        order_fields,
        [tuple(getattr(p.order, a) for a in order_fields) for p in prepared],
        key=("channel_id", "external_id"),
    )
    line_rows = []
    for p, order_id in zip(prepared, order_ids, strict=True):
        p.order.pk = order_id
        p.order._state.adding = False
        p.order._state.db = connection.alias
        for ln in p.lines:
            variant = ln["variant"]
            line_rows.append(
                (
                    order_id,
                    ln["position"],
                    variant.pk if variant is not None else None,
                    ln["sku"],
                    ln["ean"],
                    ln["name"],
                    ln["quantity"],
                    ln["unit_price_gross"],
                    ln["vat_rate"],
                    ln["total_net"],
                    ln["total_gross"],
                    ln["external_id"],
                )
            )
    line_ids = iter(_insert_returning(OrderLine, _LINE_FIELDS, line_rows, key=("order_id", "position")))
    for p in prepared:
        p.line_ids = [next(line_ids) for _ in p.lines]
    _reserve_levels(delta)
    reservations, events, audits, tokens, tag_links = [], [], [], [], []
    tag_cache: dict[str, Tag] = {}
    through = Order.tags.through
    actor_id = actor.pk if actor is not None else None
    for p in prepared:
        order, status = p.order, p.item.status
        for idx, variant_id, warehouse_id, qty in p.reserve:
            reservations.append(
                (variant_id, warehouse_id, qty, f"order-line:{p.line_ids[idx]}", order.created_at)
            )
        events.append(
            (
                order.pk,
                order.created_at,
                OrderEvent.Kind.CREATED,
                actor_id,
                label,
                status.code,
                status.stage,
                {"source": label},
            )
        )
        for name in dict.fromkeys(p.item.data.tags):
            tag = tag_cache.get(name)
            if tag is None:
                tag = tag_cache[name] = Tag.objects.get_or_create(name=name)[0]
            tag_links.append((order.pk, tag.pk))
        order_pk = order.pk
        tokens.extend([(order_pk, t) for t in p.tokens])
        audits.append(
            (
                order.created_at,
                actor_id,
                label,
                "orders.order",
                str(order_pk),
                "created",
                {
                    "number": [None, order.number],
                    "status": [None, status.code],
                    "total_gross": [None, str(order.total_gross)],
                },
            )
        )
    _insert(Reservation, ("variant_id", "warehouse_id", "quantity", "reference", "created_at"), reservations)
    stock_changed(r[0] for r in reservations)
    _insert(
        OrderEvent,
        ("order_id", "at", "kind", "actor_id", "actor_label", "to_status", "to_stage", "data"),
        events,
    )
    _insert(through, ("order_id", "tag_id"), tag_links)
    _insert(OrderSearchToken, ("order_id", "token"), tokens)
    _insert(
        AuditEntry, ("at", "actor_id", "actor_label", "object_type", "object_id", "action", "changes"), audits
    )
    return [IngestResult(order=p.order, outcome="created", attention=p.attention) for p in prepared]

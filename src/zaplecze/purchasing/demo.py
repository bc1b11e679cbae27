"""Demo data for purchasing: a few suppliers, what they sell (for the existing catalogue), reorder parameters
computed from the demo's sales, and some purchase orders (one overdue, one partly received, one received,
one draft). Called by the demo builder after the catalogue and the stock ledger exist; does nothing when
suppliers already exist."""

from __future__ import annotations

import datetime as dt
import random
import zlib
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from stdnum.pl import nip as stdnum_nip

from zaplecze.catalog.models import Variant
from zaplecze.core.businesstime import local_today

from . import services
from .models import POStatus, PurchaseOrder, PurchaseOrderEvent, Supplier, SupplierItem

SUPPLIERS = [
    # name, NIP body (9 digits, check digit computed), e-mail, currency, language, lead time (working days), address
    (
        "Hurtownia Dom i Kuchnia Sp. z o.o.",
        "525100123",
        "zamowienia@domikuchnia.example",
        "PLN",
        "pl",
        3,
        "ul. Składowa 12\n61-897 Poznań",
    ),
    (
        "Textil-Pol S.A.",
        "727200456",
        "b2b@textilpol.example",
        "PLN",
        "pl",
        7,
        "ul. Piotrkowska 200\n90-368 Łódź",
    ),
    (
        "Nordic Goods AB",
        "",
        "orders@nordicgoods.example",
        "EUR",
        "en",
        10,
        "Hamngatan 5\n111 47 Stockholm, Sweden",
    ),
    (
        "Dystrybucja Książek Sp.j.",
        "676300789",
        "hurt@ksiazki.example",
        "PLN",
        "pl",
        2,
        "ul. Wielicka 40\n30-552 Kraków",
    ),
]


def _nip(body: str) -> str:
    """A valid NIP from 9 digits: the first tenth digit that passes the check (tweaking the 9th if none)."""
    if not body:
        return ""
    for tweak in range(10):
        base = body[:-1] + str((int(body[-1]) + tweak) % 10)
        for digit in "0123456789":
            if stdnum_nip.is_valid(base + digit):
                return base + digit
    return ""


def seed_demo(*, seed: int = 42, forecast: bool = True, now: dt.datetime | None = None) -> dict:
    """Create the demo purchasing data; returns counts. Safe to call again (does nothing the second time)."""
    if Supplier.objects.exists():
        return {"suppliers": 0, "items": 0, "purchase_orders": 0}
    rng = random.Random(seed)
    now = now or timezone.now()
    variants = list(Variant.objects.filter(active=True).select_related("product").order_by("sku"))
    if not variants:
        return {"suppliers": 0, "items": 0, "purchase_orders": 0}
    with transaction.atomic():
        suppliers = [
            services.supplier_create(
                data={
                    "name": name,
                    "nip": _nip(nip),
                    "email": email,
                    "currency": currency,
                    "language": language,
                    "lead_time_days": lead,
                    "address": address,
                    "phone": "+48 61 000 00 00" if currency == "PLN" else "",
                },
                actor=None,
            )
            for name, nip, email, currency, language, lead, address in SUPPLIERS
        ]
        books = suppliers[3]
        items = []
        for v in variants:
            if v.vat_rate == "5":  # books (and other 5% goods) come from the book wholesaler
                supplier = books
            else:
                supplier = suppliers[zlib.crc32((v.product.brand or v.product.name).encode()) % 3]
            net_price = v.price / Decimal("1.23")
            cost = v.cost_price or (net_price * Decimal("0.55"))
            if supplier.currency == "EUR":
                cost = cost / Decimal("4.30")
            cost = cost.quantize(Decimal("0.01"), ROUND_HALF_UP)
            pack = rng.choice([1, 1, 1, 2, 5, 6, 10, 12])
            items.append(
                SupplierItem(
                    supplier=supplier,
                    variant=v,
                    supplier_sku=f"{supplier.name[:3].upper()}-{v.pk:05d}",
                    unit_cost=max(cost, Decimal("0.01")),
                    min_order_qty=pack * rng.choice([1, 1, 2, 3]),
                    pack_size=pack,
                    preferred=True,
                    lead_time_days=rng.choice([None, None, None, supplier.lead_time_days + 2]),
                )
            )
        SupplierItem.objects.bulk_create(items, batch_size=500)
    if forecast:
        services.reorder_compute()
    today = local_today()
    made = _purchase_orders(suppliers, rng, now, today)
    return {"suppliers": len(suppliers), "items": len(items), "purchase_orders": made}


def _lines_for(supplier: Supplier, rng: random.Random, n: int) -> list[dict]:
    chosen = list(SupplierItem.objects.filter(supplier=supplier).order_by("id")[:200])
    rng.shuffle(chosen)
    return [
        {"variant_id": i.variant_id, "quantity": max(i.min_order_qty, i.pack_size * rng.randint(1, 4))}
        for i in chosen[:n]
    ]


def _backdate(
    po: PurchaseOrder, *, created: dt.datetime, sent: dt.datetime | None, expected: dt.date
) -> None:
    PurchaseOrder.objects.filter(pk=po.pk).update(created_at=created, sent_at=sent, expected_date=expected)
    PurchaseOrderEvent.objects.filter(purchase_order=po).update(at=sent or created)


def _purchase_orders(suppliers: list[Supplier], rng: random.Random, now: dt.datetime, today: dt.date) -> int:
    made = 0
    # 1. overdue: sent 12 days ago, expected 4 days ago, nothing came
    home, textil, nordic, books = suppliers
    lines = _lines_for(home, rng, 3)
    if lines:
        po = services.po_create(
            supplier_id=home.pk, lines=lines, actor=None, notes="Prosimy o awizację dostawy."
        )
        services.po_send(po_id=po.pk, actor=None, email=False)
        _backdate(
            po,
            created=now - dt.timedelta(days=12),
            sent=now - dt.timedelta(days=12),
            expected=today - dt.timedelta(days=4),
        )
        made += 1
    # 2. partly received: sent 6 days ago, half of the first line came
    lines = _lines_for(textil, rng, 4)
    if lines:
        po = services.po_create(supplier_id=textil.pk, lines=lines, actor=None)
        services.po_send(po_id=po.pk, actor=None, email=False)
        _backdate(
            po,
            created=now - dt.timedelta(days=6),
            sent=now - dt.timedelta(days=6),
            expected=today + dt.timedelta(days=3),
        )
        first = po.lines.order_by("id").first()
        services.po_receive(
            po_id=po.pk,
            lines=[
                {
                    "line_id": first.pk,
                    "quantity": max(1, first.quantity // 2),
                    "damaged": 1,
                    "note": "pęknięte opakowanie",
                }
            ],
            note="WZ 2231/2026",
            actor=None,
        )
        made += 1
    # 3. received in full three weeks ago
    lines = _lines_for(books, rng, 3)
    if lines:
        po = services.po_create(supplier_id=books.pk, lines=lines, actor=None)
        services.po_send(po_id=po.pk, actor=None, email=False)
        services.po_receive(
            po_id=po.pk,
            lines=[{"line_id": line.pk, "quantity": line.quantity} for line in po.lines.all()],
            note="WZ 88/2026",
            actor=None,
        )
        _backdate(
            po,
            created=now - dt.timedelta(days=24),
            sent=now - dt.timedelta(days=24),
            expected=today - dt.timedelta(days=21),
        )
        PurchaseOrder.objects.filter(pk=po.pk, status=POStatus.RECEIVED).update(
            received_at=now - dt.timedelta(days=21)
        )
        made += 1
    # 4. a draft to a foreign supplier (PDF in English, EUR)
    lines = _lines_for(nordic, rng, 2)
    if lines:
        services.po_create(
            supplier_id=nordic.pk, lines=lines, actor=None, notes="Please deliver on a pallet."
        )
        made += 1
    return made

"""Purchase orders: numbering, totals, editing, suggestions -> POs, PDF/CSV, e-mail after commit with retry,
receiving (partial, scans, discrepancies, over-receipt refused), overdue detection and alert."""

from __future__ import annotations

import datetime as dt
import smtplib
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail

from zaplecze.core.businesstime import add_business_days, local_today
from zaplecze.core.errors import DomainError, IllegalTransition
from zaplecze.inventory.models import StockLevel, StockMovement
from zaplecze.purchasing import documents, selectors, services
from zaplecze.purchasing.models import (
    Discrepancy,
    POStatus,
    PurchaseOrder,
    PurchaseOrderEvent,
    ReorderParameter,
)

D = Decimal


def _on_hand(variant) -> int:
    return sum(StockLevel.objects.filter(variant=variant).values_list("on_hand", flat=True))


def test_create_numbers_totals_and_expected_date(supplier, item_factory, admin_user):
    mug = item_factory(sku="MUG-1", unit_cost="10.00")
    tea = item_factory(sku="TEA-1", unit_cost="3.33")
    a = services.po_create(
        supplier_id=supplier.pk,
        lines=[{"sku": "MUG-1", "quantity": 3}, {"variant_id": tea.pk, "quantity": 7, "unit_cost": "3,10"}],
        actor=admin_user,
    )
    b = services.po_create(supplier_id=supplier.pk, lines=[{"sku": "MUG-1", "quantity": 1}], actor=admin_user)
    year = local_today().year
    assert (a.number, b.number) == (f"PO/{year}/00001", f"PO/{year}/00002")
    assert a.status == POStatus.DRAFT and a.currency == "PLN" and a.language == "pl"
    assert a.expected_date == add_business_days(local_today(), 5)
    totals = selectors.po_totals(selectors.po_lines(a))
    assert (totals.net, totals.vat, totals.gross) == (D("51.70"), D("11.89"), D("63.59"))
    assert [line.unit_cost for line in selectors.po_lines(a)] == [D("10.00"), D("3.10")]
    assert mug.pk in {line.variant_id for line in selectors.po_lines(a)}


def test_bad_lines_are_refused_with_the_line_named(supplier, item_factory, product_factory, admin_user):
    item_factory(sku="MUG-1")
    product_factory(sku="NOPRICE", stock=0)
    cases = [
        ([{"sku": "NOPE", "quantity": 1}], "lines[0].sku"),
        ([{"sku": "MUG-1", "quantity": 0}], "lines[0].quantity"),
        ([{"sku": "MUG-1", "quantity": 1}, {"sku": "MUG-1", "quantity": 2}], "lines[1].sku"),
        ([{"sku": "MUG-1", "quantity": 1}, {"sku": "NOPRICE", "quantity": 2}], "lines[1].unit_cost"),
        ([], "lines"),
    ]
    for lines, where in cases:
        with pytest.raises(DomainError) as exc:
            services.po_create(supplier_id=supplier.pk, lines=lines, actor=admin_user)
        assert exc.value.field == where
    assert PurchaseOrder.objects.count() == 0


def test_only_a_draft_can_be_edited(sent_po, admin_user):
    with pytest.raises(IllegalTransition):
        services.po_update(po_id=sent_po.pk, notes="x", actor=admin_user)


def test_suggestions_become_one_draft_po_per_supplier(supplier, item_factory, admin_user):
    from zaplecze.purchasing.services import supplier_create, supplier_item_save

    other = supplier_create(data={"name": "Herbata SA", "lead_time_days": 2}, actor=None)
    mug = item_factory(sku="MUG-1", moq=24, pack=6, stock=3)
    tea = item_factory(sku="TEA-1", stock=0, preferred=False)
    supplier_item_save(
        supplier_id=other.pk, variant_id=tea.pk, unit_cost="2.00", pack_size=10, preferred=True, actor=None
    )
    services.reorder_parameter_set(
        variant_id=mug.pk, mode="manual", reorder_point=10, safety_stock=2, actor=None
    )
    services.reorder_parameter_set(
        variant_id=tea.pk, mode="manual", reorder_point=5, safety_stock=1, actor=None
    )

    rows = selectors.reorder_suggestions()
    by_sku = {r.variant.sku: r for r in rows}
    # MUG: (10 - 3) + 0/day × 14 = 7 -> minimum 24 -> whole packs of 6: 24
    assert by_sku["MUG-1"].quantity == 24 and by_sku["MUG-1"].item.supplier == supplier
    # TEA: preferred supplier is Herbata: (5 - 0) = 5 -> pack of 10
    assert by_sku["TEA-1"].quantity == 10 and by_sku["TEA-1"].item.supplier == other
    groups = selectors.suggestions_by_supplier(rows)
    assert [g.supplier.name for g in groups] == ["Herbata SA", "Hurtownia Kubek Sp. z o.o."]
    assert [r.variant.sku for r in selectors.reorder_suggestions(supplier_id=other.pk)] == ["TEA-1"]

    pos = services.po_create_from_suggestions(param_ids=[r.param.pk for r in rows], actor=admin_user)
    assert sorted((po.supplier.name, [(ln.sku, ln.quantity) for ln in po.lines.all()]) for po in pos) == [
        ("Herbata SA", [("TEA-1", 10)]),
        ("Hurtownia Kubek Sp. z o.o.", [("MUG-1", 24)]),
    ]
    mug_line = next(po for po in pos if po.supplier == supplier).lines.get()
    assert [s["code"] for s in mug_line.explanation] == ["supplier", "position", "need", "moq", "result"]


def test_on_order_quantities_count_against_the_reorder_point(sent_po, item_factory, admin_user):
    mug = sent_po.lines.get(sku="MUG-1").variant
    services.reorder_parameter_set(
        variant_id=mug.pk, mode="manual", reorder_point=8, safety_stock=0, actor=None
    )
    # available 0 + on order 10 > 8: nothing to order
    assert selectors.reorder_suggestions() == []
    services.po_receive(po_id=sent_po.pk, lines=[{"code": "MUG-1", "quantity": 10}], actor=admin_user)
    services.stock.stock_adjust(variant=mug, warehouse=sent_po.warehouse, delta=-5, reason="sold")
    [row] = selectors.reorder_suggestions()
    assert (row.available, row.on_order, row.quantity) == (5, 0, 3)


def test_pdf_is_a_pdf_in_the_suppliers_language(sent_po):
    pdf = documents.po_pdf(sent_po)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 2000
    html = documents.po_html(sent_po)
    assert "Zamówienie" in html or "Purchase order" in html
    assert "MUG-1" in html and "S-MUG-1" in html and "526-025-02-74" not in html  # NIP stored compact
    assert "5260250274" in html


def test_csv_has_one_row_per_line(sent_po):
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(documents.po_csv(sent_po))))
    assert [(r["sku"], r["quantity"], r["unit_cost_net"], r["net"], r["gross"]) for r in rows] == [
        ("MUG-1", "10", "10.00", "100.00", "123.00"),
        ("TEA-1", "4", "3.50", "14.00", "17.22"),
    ]


@pytest.mark.django_db(transaction=True)
def test_email_is_sent_after_commit_with_the_pdf_and_retried(settings, product_factory, admin_user):
    from zaplecze.purchasing.services import supplier_create, supplier_item_save
    from zaplecze.service.models import OutboxEmail
    from zaplecze.service.services import outbox_retry_due

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    s = supplier_create(
        data={"name": "Supplier EN", "email": "orders@supplier.example", "language": "en"}, actor=None
    )
    v = product_factory(sku="MUG-9", stock=0)
    supplier_item_save(supplier_id=s.pk, variant_id=v.pk, unit_cost="1.00", actor=None)
    po = services.po_create(supplier_id=s.pk, lines=[{"sku": "MUG-9", "quantity": 5}], actor=admin_user)
    mail.outbox.clear()

    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=smtplib.SMTPServerDisconnected("down"),
    ):
        services.po_send(po_id=po.pk, actor=admin_user)
    po.refresh_from_db()
    assert po.status == POStatus.SENT
    email = OutboxEmail.objects.get(pk=po.email_id)
    assert email.state == OutboxEmail.State.PENDING and email.attempts == 1 and "down" in email.last_error
    assert mail.outbox == []

    # the worker's periodic pass retries once the back-off is over
    sent = outbox_retry_due(now=email.next_attempt_at + dt.timedelta(seconds=1))
    assert sent == 1
    email.refresh_from_db()
    assert email.state == OutboxEmail.State.SENT
    [msg] = mail.outbox
    assert msg.to == ["orders@supplier.example"]
    assert msg.subject == f"Purchase order {po.number}"
    [(name, content, ctype)] = msg.attachments
    assert (
        name == po.number.replace("/", "-") + ".pdf"
        and ctype == "application/pdf"
        and content.startswith(b"%PDF-")
    )
    assert po.events.filter(kind=PurchaseOrderEvent.Kind.EMAIL_QUEUED).count() == 1


def test_no_email_when_the_transaction_rolls_back(
    supplier, item_factory, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    item_factory(sku="MUG-1")
    po = services.po_create(
        supplier_id=supplier.pk, lines=[{"sku": "MUG-1", "quantity": 1}], actor=admin_user
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.po_send(po_id=po.pk, actor=admin_user)
    assert len(callbacks) == 1 and mail.outbox == []  # queued for after commit, not sent inside it
    callbacks[0]()
    assert len(mail.outbox) == 1


def test_send_without_address_is_refused_and_changes_nothing(item_factory, admin_user):
    from zaplecze.purchasing.services import supplier_create, supplier_item_save

    s = supplier_create(data={"name": "No mail"}, actor=None)
    v = item_factory(sku="MUG-1")
    supplier_item_save(supplier_id=s.pk, variant_id=v.pk, unit_cost="1", actor=None)
    po = services.po_create(supplier_id=s.pk, lines=[{"sku": "MUG-1", "quantity": 1}], actor=admin_user)
    with pytest.raises(DomainError) as exc:
        services.po_send(po_id=po.pk, actor=admin_user)
    assert "no e-mail address" in exc.value.message
    po.refresh_from_db()
    assert po.status == POStatus.DRAFT


def test_partial_receipts_post_stock_and_finish_the_po(sent_po, admin_user):
    mug = sent_po.lines.get(sku="MUG-1")
    tea = sent_po.lines.get(sku="TEA-1")
    r1 = services.po_receive(
        po_id=sent_po.pk,
        scans=["5901234123457", "5901234123457", "mug-1", "S-TEA-1"],
        lines=[{"line_id": mug.pk, "quantity": 2}],
        actor=admin_user,
    )
    sent_po.refresh_from_db()
    mug.refresh_from_db()
    tea.refresh_from_db()
    assert sent_po.status == POStatus.PARTIAL
    assert (mug.received_qty, tea.received_qty) == (5, 1)
    assert _on_hand(mug.variant) == 5 and _on_hand(tea.variant) == 1
    moves = StockMovement.objects.filter(reference=sent_po.number).order_by("id")
    assert [(m.variant.sku, m.kind, m.quantity) for m in moves] == [
        ("MUG-1", "receipt", 5),
        ("TEA-1", "receipt", 1),
    ]
    assert r1.number == f"{sent_po.number}/R1"

    services.po_receive(
        po_id=sent_po.pk,
        lines=[{"code": "MUG-1", "quantity": 5}, {"code": "TEA-1", "quantity": 3}],
        actor=admin_user,
    )
    sent_po.refresh_from_db()
    assert sent_po.status == POStatus.RECEIVED and sent_po.received_at is not None
    assert _on_hand(mug.variant) == 10 and _on_hand(tea.variant) == 4
    assert sent_po.receipts.count() == 2
    with pytest.raises(IllegalTransition):
        services.po_receive(po_id=sent_po.pk, lines=[{"code": "MUG-1", "quantity": 1}], actor=admin_user)


def test_receiving_more_than_ordered_is_refused_unless_accepted_with_a_note(sent_po, admin_user):
    mug = sent_po.lines.get(sku="MUG-1")
    services.po_receive(po_id=sent_po.pk, lines=[{"code": "MUG-1", "quantity": 8}], actor=admin_user)
    with pytest.raises(DomainError) as exc:
        services.po_receive(po_id=sent_po.pk, lines=[{"code": "MUG-1", "quantity": 3}], actor=admin_user)
    assert exc.value.code == "over_receipt"
    assert "ordered 10, already received 8, outstanding 2" in exc.value.message
    with pytest.raises(DomainError) as exc:  # accepted, but without a note
        services.po_receive(
            po_id=sent_po.pk, lines=[{"code": "MUG-1", "quantity": 3}], accept_over=True, actor=admin_user
        )
    assert exc.value.field == "over_note"
    mug.refresh_from_db()
    assert mug.received_qty == 8 and _on_hand(mug.variant) == 8  # nothing changed by the refusals
    assert sent_po.receipts.count() == 1

    services.po_receive(
        po_id=sent_po.pk,
        lines=[{"code": "MUG-1", "quantity": 3}, {"code": "TEA-1", "quantity": 4}],
        accept_over=True,
        over_note="supplier sent a full carton; agreed by phone",
        actor=admin_user,
    )
    mug.refresh_from_db()
    assert mug.received_qty == 11 and _on_hand(mug.variant) == 11
    [d] = Discrepancy.objects.filter(kind=Discrepancy.Kind.OVER)
    assert (d.po_line_id, d.quantity, d.note) == (mug.pk, 1, "supplier sent a full carton; agreed by phone")
    sent_po.refresh_from_db()
    assert sent_po.status == POStatus.RECEIVED


def test_unknown_codes_damaged_wrong_items_and_closing_short(sent_po, product_factory, admin_user):
    product_factory(sku="OTHER-1", ean="5907777777775", stock=0)
    with pytest.raises(DomainError) as exc:
        services.po_receive(po_id=sent_po.pk, scans=["5901234123457", "1234567890128"], actor=admin_user)
    assert exc.value.code == "unknown_code" and exc.value.field == "scans[1]"
    assert "Unknown EAN or SKU 1234567890128" in exc.value.message
    with pytest.raises(DomainError) as exc:
        services.po_receive(po_id=sent_po.pk, scans=["OTHER-1"], actor=admin_user)
    assert exc.value.code == "not_on_po" and "record it as a wrong item" in exc.value.message
    assert StockMovement.objects.filter(reference=sent_po.number).count() == 0

    services.po_receive(
        po_id=sent_po.pk,
        lines=[{"code": "MUG-1", "quantity": 6, "damaged": 2, "note": "broken handles"}],
        wrong_items=[{"code": "OTHER-1", "quantity": 3, "note": "sent instead of tea"}],
        close=True,
        note="supplier cannot deliver the rest",
        actor=admin_user,
    )
    sent_po.refresh_from_db()
    assert sent_po.status == POStatus.RECEIVED
    got = sorted(
        (d.kind, d.po_line.sku if d.po_line else d.code, d.quantity) for d in Discrepancy.objects.all()
    )
    assert got == [
        ("damaged", "MUG-1", 2),
        ("short", "MUG-1", 4),
        ("short", "TEA-1", 4),
        ("wrong_item", "OTHER-1", 3),
    ]
    mug = sent_po.lines.get(sku="MUG-1")
    assert _on_hand(mug.variant) == 6  # damaged units are not put into stock


def test_cancel_only_before_goods_arrive(sent_po, admin_user):
    services.po_receive(po_id=sent_po.pk, lines=[{"code": "TEA-1", "quantity": 1}], actor=admin_user)
    with pytest.raises(IllegalTransition):
        services.po_cancel(po_id=sent_po.pk, actor=admin_user)


def test_overdue_detection_and_alert(
    sent_po, supplier, item_factory, make_user, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from zaplecze.core.models import User

    organiser = make_user("organiser")
    User.objects.filter(pk=organiser.pk).update(email="org@shop.example")
    today = local_today()
    PurchaseOrder.objects.filter(pk=sent_po.pk).update(expected_date=today - dt.timedelta(days=2))
    on_time = services.po_create(supplier_id=supplier.pk, lines=[{"sku": "MUG-1", "quantity": 1}], actor=None)
    services.po_send(po_id=on_time.pk, actor=None, email=False)
    draft_late = services.po_create(
        supplier_id=supplier.pk, lines=[{"sku": "MUG-1", "quantity": 1}], actor=None
    )
    PurchaseOrder.objects.filter(pk=draft_late.pk).update(expected_date=today - dt.timedelta(days=5))

    assert [po.number for po in selectors.overdue_purchase_orders(today=today)] == [sent_po.number]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        alerted = services.po_overdue_alert(today=today)
    assert [po.pk for po in alerted] == [sent_po.pk]
    assert sent_po.events.filter(kind=PurchaseOrderEvent.Kind.OVERDUE).count() == 1
    [msg] = [m for m in mail.outbox if m.to == ["org@shop.example"]]
    assert sent_po.number in msg.body
    # once per PO and expected date: the next run says nothing new
    assert services.po_overdue_alert(today=today) == []
    # fully received: no longer overdue
    services.po_receive(
        po_id=sent_po.pk,
        lines=[{"code": "MUG-1", "quantity": 10}, {"code": "TEA-1", "quantity": 4}],
        actor=None,
    )
    assert list(selectors.overdue_purchase_orders(today=today)) == []


def test_supplier_nip_is_validated(db):
    with pytest.raises(DomainError) as exc:
        services.supplier_create(data={"name": "X", "nip": "526-025-02-75"}, actor=None)
    assert exc.value.field == "nip"
    s = services.supplier_create(data={"name": "X", "nip": "PL 526 025 02 74"}, actor=None)
    assert s.nip == "5260250274"


def test_only_one_preferred_supplier_per_variant(supplier, item_factory):
    v = item_factory(sku="MUG-1")
    other = services.supplier_create(data={"name": "Other"}, actor=None)
    services.supplier_item_save(
        supplier_id=other.pk, variant_id=v.pk, unit_cost="5", preferred=True, actor=None
    )
    assert list(v.supplier_items.filter(preferred=True).values_list("supplier__name", flat=True)) == ["Other"]
    assert ReorderParameter.objects.count() == 0

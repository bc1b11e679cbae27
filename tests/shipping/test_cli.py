"""`zaplecze shipments sync` and `zaplecze shipments labels`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zaplecze.cli import main
from zaplecze.shipping import pdfmerge, services
from zaplecze.shipping.models import Shipment

pytestmark = pytest.mark.usefixtures("media")


def test_sync_polls_tracking_and_prints_a_json_report(shipx, order_factory, admin_user):
    from django.utils import timezone

    s = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    services.shipment_submit(shipment_id=s.pk)
    s.refresh_from_db()
    later = (timezone.now().replace(microsecond=0) + timezone.timedelta(hours=1)).isoformat()
    shipx.set_tracking(s.tracking_number, [("collected_from_sender", later)])
    result = CliRunner().invoke(main, ["shipments", "sync", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"checked": 1, "changed": 1, "failed": 0, "errors": []}
    assert Shipment.objects.get(pk=s.pk).status == "handed_over"


def test_sync_exits_1_when_a_carrier_fails(shipx, order_factory, admin_user):
    s = services.shipment_create(order_id=order_factory().pk, actor=admin_user, submit=False)
    services.shipment_submit(shipment_id=s.pk)
    shipx.fail("tracking", "500")
    result = CliRunner().invoke(main, ["shipments", "sync"])
    assert result.exit_code == 1
    assert "1 shipments checked: 0 changed, 1 failed" in result.output


def test_labels_writes_one_merged_pdf_and_reports_failures(shipx, order_factory, tmp_path):
    a, b = order_factory(), order_factory(pickup_point="XXX000")
    out = tmp_path / "labels.pdf"
    result = CliRunner().invoke(
        main, ["shipments", "labels", a.number, b.number.lstrip("#"), "NOPE", "-o", str(out)]
    )
    assert result.exit_code == 1
    assert "NOPE: no such order" in result.output
    assert f"{b.number}: InPost answered 400" in result.output
    assert "2 created, 0 existing, 1 labels" in result.output and "2 failed" in result.output
    assert pdfmerge.page_count(out.read_bytes()) == 1

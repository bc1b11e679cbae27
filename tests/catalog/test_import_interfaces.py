"""The doors into the import: screens (upload, preview, htmx row fix, apply, history with undo, export), the API
and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from zaplecze.catalog import bulk
from zaplecze.catalog.models import BulkChange, Product, Variant

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = "sku;product_name;price;ean\nW-1;Kubek;19,99;5901234123457\nW-2;Talerz;abc;\n".encode("cp1250")


def upload(client, data=GOOD_AND_BAD, name="products.csv"):
    return client.post(reverse("catalog:import"), {"file": SimpleUploadedFile(name, data, "text/csv")})


def test_upload_preview_fix_apply_undo_through_the_screens(admin_client):
    response = upload(admin_client)
    assert response.status_code == 302
    b = BulkChange.objects.get()
    assert response["Location"] == reverse("catalog:import_preview", args=[b.pk])

    page = admin_client.get(response["Location"]).content.decode()
    assert 'data-row="3"' in page and 'data-error-column="price"' in page and "abc is not a number" in page
    assert "Apply the valid rows, skip 1 row with errors" in page

    form = admin_client.get(reverse("catalog:import_row", args=[b.pk, 3]), HTTP_HX_REQUEST="true")
    assert form.status_code == 200 and 'name="cell:price"' in form.content.decode()
    still_wrong = admin_client.post(
        reverse("catalog:import_row", args=[b.pk, 3]), {"cell:price": "xyz"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "data-row-form" in still_wrong and "xyz is not a number" in still_wrong
    fixed = admin_client.post(
        reverse("catalog:import_row", args=[b.pk, 3]),
        {"cell:price": "24,50", "cell:sku": "W-2", "cell:product_name": "Talerz", "cell:ean": ""},
        HTTP_HX_REQUEST="true",
    )
    html = fixed.content.decode()
    assert fixed.status_code == 200 and 'data-action="create"' in html
    assert 'id="import-summary"' in html and 'hx-swap-oob="true"' in html

    applied = admin_client.post(reverse("catalog:import_apply", args=[b.pk]))
    assert applied.status_code == 302
    assert Variant.objects.get(sku="W-2").price == Decimal("24.50")

    history = admin_client.get(reverse("catalog:import_history")).content.decode()
    assert "data-undo" in history
    admin_client.post(reverse("catalog:import_undo", args=[b.pk]))
    assert Variant.objects.count() == 0
    b.refresh_from_db()
    assert b.state == "undone"


def test_unreadable_upload_shows_the_reason(admin_client):
    response = upload(admin_client, data=b"\x00\x01\x02garbage" * 100, name="x.csv")
    assert response.status_code == 400
    assert "binary file" in response.content.decode()
    assert BulkChange.objects.count() == 0


def test_apply_with_errors_without_skipping_says_why(admin_client):
    upload(admin_client)
    b = BulkChange.objects.get()
    response = admin_client.post(reverse("catalog:import_apply", args=[b.pk]), follow=True)
    assert "1 rows have errors" in response.content.decode()
    assert Variant.objects.count() == 0


def test_export_links(admin_client, product_factory):
    product_factory(sku="E-1", price="10.00")
    csv = admin_client.get(reverse("catalog:import_export") + "?format=csv")
    body = b"".join(csv.streaming_content)
    assert csv["Content-Type"].startswith("text/csv") and body.startswith(b"\xef\xbb\xbf") and b"E-1" in body
    xlsx = admin_client.get(reverse("catalog:import_export") + "?format=xlsx&status=active")
    assert b"".join(xlsx.streaming_content).startswith(b"PK")


def test_warehouse_role_may_not_import(make_user, client):
    client.force_login(make_user("warehouse"))
    assert upload(client).status_code == 403
    assert BulkChange.objects.count() == 0


# --- API -------------------------------------------------------------------------------------------------------


@pytest.fixture
def api(admin_user):
    from zaplecze.core.services import token_create

    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=admin_user, name='t')}")


def test_api_upload_fix_apply_undo(api):
    response = api.post("/api/v1/catalog/imports", {"file": SimpleUploadedFile("p.csv", GOOD_AND_BAD)})
    assert response.status_code == 201, response.content
    preview = response.json()
    assert preview["summary"]["error"] == 1
    bad = next(r for r in preview["rows"] if r["action"] == "error")
    assert bad["row"] == 3 and bad["errors"][0]["column"] == "price"

    url = f"/api/v1/catalog/imports/{preview['id']}"
    assert api.post(f"{url}/apply", {}, content_type="application/json").json()["code"] == "rows_have_errors"
    fixed = api.post(f"{url}/rows/3", {"values": {"price": "7"}}, content_type="application/json")
    assert fixed.status_code == 200 and fixed.json()["row"]["action"] == "create"
    assert (
        api.post(f"{url}/rows/3", {"values": {"nope": "7"}}, content_type="application/json").status_code
        == 400
    )
    errors_only = api.get(f"{url}?show=errors").json()
    assert errors_only["rows"] == [] and errors_only["rows_total"] == 0

    applied = api.post(f"{url}/apply", {"skip_errors": False}, content_type="application/json")
    assert applied.status_code == 200 and applied.json()["state"] == "applied"
    again = api.post(f"{url}/apply", {}, content_type="application/json")
    assert again.status_code == 409

    undone = api.post(f"{url}/undo", {}, content_type="application/json")
    assert undone.status_code == 200 and undone.json()["state"] == "undone"
    assert Variant.objects.count() == 0


def test_api_bad_file_and_export(api, product_factory):
    response = api.post("/api/v1/catalog/imports", {"file": SimpleUploadedFile("p.pdf", b"%PDF-1.4 ...")})
    assert response.status_code == 400 and response.json()["code"] == "bad_file"
    product_factory(sku="E-1")
    export = api.get("/api/v1/catalog/imports/export?format=csv")
    assert export.status_code == 200 and b"E-1" in b"".join(export.streaming_content)
    assert api.get("/api/v1/catalog/imports/export?format=pdf").status_code == 422


# --- CLI -------------------------------------------------------------------------------------------------------


def _cli(*args):
    from zaplecze.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_import_preview_apply_export_undo(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(GOOD_AND_BAD)

    preview = _cli("products", "import", str(path))
    assert preview.exit_code == 1
    assert "2 rows: 1 new, 0 changed, 0 unchanged, 1 with errors" in preview.output
    assert "row 3, column price: abc is not a number" in preview.output
    assert Variant.objects.count() == 0

    applied = _cli("products", "import", str(path), "--apply", "--skip-errors", "--json")
    assert applied.exit_code == 0
    result = json.loads(applied.output)
    assert result["applied"]["created"] == 1 and result["skipped"] == 1

    out = tmp_path / "out.xlsx"
    assert _cli("products", "export", "-o", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"PK")
    again = _cli("products", "import", str(out), "--json")
    assert json.loads(again.output)["summary"]["unchanged"] == 1

    undone = _cli("products", "undo", "--yes")
    assert undone.exit_code == 0 and "Undone" in undone.output
    assert Product.objects.count() == 0
    assert _cli("products", "undo", "--yes").exit_code == 1


def test_cli_unreadable_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\x00" * 50)
    result = _cli("products", "import", str(path))
    assert result.exit_code == 2 and "binary file" in result.output


def test_bulk_undo_of_a_repricing_dispatches_to_reprice_undo(admin_user, monkeypatch):
    import types

    calls = []
    fake = types.SimpleNamespace(reprice_undo=lambda b, actor: calls.append((b.pk, actor)) or b)
    monkeypatch.setitem(__import__("sys").modules, "zaplecze.catalog.reprice", fake)
    import zaplecze.catalog as catalog_pkg

    monkeypatch.setattr(catalog_pkg, "reprice", fake, raising=False)
    from django.utils import timezone

    b = BulkChange.objects.create(kind="reprice", state="applied", applied_at=timezone.now(), title="+5%")
    bulk.bulk_undo(b, admin_user)
    assert calls == [(b.pk, admin_user)]

"""The audit's doors: the to-fix list (filters, CSV), rule settings, "audit now", the product panel, the API
and `zaplecze catalog audit`."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from zaplecze.catalog import audit
from zaplecze.catalog.models import AuditFinding, AuditRuleConfig, Product
from zaplecze.cli import main
from zaplecze.core.models import Job
from zaplecze.core.services import token_create

from .test_audit import category, make, maker  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(make):  # noqa: F811
    good = make(name="Kubek dobry")
    no_brand = make(name="Kubek bez marki", brand="")
    no_image = make(name='=HYPERLINK("x")', images=(), variants=[{"ean": ""}])
    audit.audit_run()
    return {"good": good, "no_brand": no_brand, "no_image": no_image}


def client_for(make_user, role):
    client = Client()
    client.force_login(make_user(role, username=f"ui-{role}"))
    return client


def test_list_shows_score_counts_and_filters(admin_client, catalog):
    url = reverse("catalog:audit")
    page = admin_client.get(url).content.decode()
    # scores 100, 90, 100 - 25 - 10 = 65 -> mean 85.0
    assert "85.0" in page
    assert 'data-finding="brand_missing"' in page and 'data-finding="image_missing"' in page
    assert reverse("catalog:audit_rules") in page
    page = admin_client.get(url, {"rule": "image_missing"}).content.decode()
    assert 'data-finding="image_missing"' in page and 'data-finding="brand_missing"' not in page
    page = admin_client.get(url, {"severity": "warning", "brand": "Bolesławiec"}).content.decode()
    assert 'data-finding="ean_missing"' in page and 'data-finding="brand_missing"' not in page
    page = admin_client.get(url, {"status": "draft"}).content.decode()
    assert "data-finding=" not in page
    assert audit.fix_url(catalog["no_image"].pk) in admin_client.get(url).content.decode()


def test_list_queries_do_not_grow_with_rows(admin_client, make):  # noqa: F811
    make(brand="")
    audit.audit_run()
    url = reverse("catalog:audit")
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for _ in range(10):
        make(brand="", category=None)
    audit.audit_run()
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_keyset_paging(admin_client, make, monkeypatch):  # noqa: F811
    from zaplecze.catalog import views_audit

    monkeypatch.setattr(views_audit, "PAGE_SIZE", 2)
    for _ in range(3):
        make(brand="")
    audit.audit_run()
    ids = list(AuditFinding.objects.order_by("id").values_list("id", flat=True))
    page = admin_client.get(reverse("catalog:audit"), {"rule": "brand_missing"}).content.decode()
    assert f"after={ids[1]}" in page
    page = admin_client.get(
        reverse("catalog:audit"), {"rule": "brand_missing", "after": ids[1]}
    ).content.decode()
    assert page.count('data-finding="brand_missing"') == 1 and "after=" not in page


def test_csv_export(admin_client, catalog):
    response = admin_client.get(reverse("catalog:audit"), {"format": "csv", "rule": "image_missing"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:6] == ["Product id", "Product", "SKU", "Rule", "Severity", "Problem"]
    assert len(rows) == 2
    assert rows[1][1].startswith("'=HYPERLINK")  # no formulas from product names
    assert rows[1][3:6] == ["image_missing", "error", "No image."]


def test_rules_page_saves_and_validates(admin_client, make_user):
    url = reverse("catalog:audit_rules")
    page = admin_client.get(url).content.decode()
    assert 'data-rule="eco_claim"' in page and "2024/825" in page
    form = {}
    for s in audit.rule_settings().values():
        if s.enabled:
            form[f"{s.code}__enabled"] = "on"
        form[f"{s.code}__severity"] = s.severity
        for name, value in s.params.items():
            form[f"{s.code}__{name}"] = ", ".join(value) if isinstance(value, list) else value
    bad = {**form, "description_short__min_length": "abc"}
    response = admin_client.post(url, bad)
    assert response.status_code == 400
    assert "must be a number" in response.content.decode()
    assert AuditRuleConfig.objects.get(code="description_short").params == {"min_length": 200}
    good = {
        **form,
        "description_short__min_length": "300",
        "eco_claim__allowed_phrases": "eko, Zielony wybór",
    }
    del good["brand_missing__enabled"]
    good["category_missing__severity"] = "error"
    response = admin_client.post(url, good)
    assert response.status_code == 302
    s = audit.rule_settings()
    assert s["description_short"].params == {"min_length": 300}
    assert s["eco_claim"].params["allowed_phrases"] == ["eko", "zielony wybór"]
    assert (s["brand_missing"].enabled, s["category_missing"].severity) == (False, "error")
    # settings.catalog only: marketing may see the list but not change the rules
    marketing = client_for(make_user, "marketing")
    assert marketing.get(url).status_code == 403
    assert marketing.get(reverse("catalog:audit")).status_code == 200


def test_run_now_creates_a_job(admin_client, catalog, django_capture_on_commit_callbacks):
    Product.objects.filter(pk=catalog["good"].pk).update(brand="")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("catalog:audit_run"))
    job = Job.objects.get(kind="catalog.audit")
    assert response.status_code == 302 and response["Location"] == reverse("web:job", args=[job.pk])
    job.refresh_from_db()
    assert job.state == Job.State.DONE
    assert job.result["products"] == 3 and job.result["by_rule"]["brand_missing"] == 2
    assert AuditFinding.objects.filter(rule="brand_missing").count() == 2


def test_run_now_needs_catalog_edit(make_user):
    readonly = client_for(make_user, "readonly")
    assert readonly.post(reverse("catalog:audit_run")).status_code == 403
    assert not Job.objects.exists()


def test_product_panel(admin_user, catalog):
    from django.template.loader import render_to_string

    from zaplecze.catalog.panels import product_panels

    request = RequestFactory().get("/")
    request.user = admin_user
    product = catalog["no_image"]
    product.refresh_from_db()
    [panel] = [p for p in product_panels(request, product) if p["name"] == "audit"]
    html = render_to_string(panel["template"], {**panel["context"], "product": product, "request": request})
    assert "65 / 100" in html
    assert html.index('data-finding="image_missing"') < html.index(
        'data-finding="ean_missing"'
    )  # worst first
    assert "Google Merchant Center rejects items without an image" in html


# --- API -------------------------------------------------------------------------------------------------

BASE = "/api/v1/catalog/audit"


@pytest.fixture
def api(make_user):
    def _client(role="admin"):
        user = make_user(role, username=f"api-{role}")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user)}")

    return _client


def test_api_summary_and_findings(api, catalog):
    client = api("readonly")
    data = client.get(BASE).json()
    assert data["score"] == 85.0 and data["products"] == 3 and data["findings"] == 3
    assert data["by_severity"] == {"error": 1, "warning": 2, "info": 0}
    rules = {r["code"]: r for r in data["rules"]}
    assert rules["brand_missing"]["products"] == 1
    first = client.get(f"{BASE}/findings", {"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_after"] == first["items"][-1]["id"]
    rest = client.get(f"{BASE}/findings", {"limit": 2, "after": first["next_after"]}).json()
    assert len(rest["items"]) == 1 and rest["next_after"] is None
    only = client.get(f"{BASE}/findings", {"rule": "image_missing"}).json()["items"]
    assert [(f["rule"], f["message"], f["product_id"]) for f in only] == [
        ("image_missing", "No image.", catalog["no_image"].pk)
    ]
    assert client.get(f"{BASE}/findings", {"severity": "fatal"}).status_code == 422


def test_api_rules(api):
    admin, readonly = api("admin"), api("readonly")
    rule = readonly.get(f"{BASE}/rules/price_jump").json()
    assert rule["severity"] == "warning"
    assert {p["name"]: p["value"] for p in rule["params"]} == {"max_change_percent": "50", "days": 30}
    assert readonly.get(f"{BASE}/rules/nope").status_code == 404
    body = {"enabled": False, "params": {"max_change_percent": 20}}
    denied = readonly.put(f"{BASE}/rules/price_jump", body, content_type="application/json")
    assert denied.status_code == 403 and audit.rule_settings()["price_jump"].enabled
    ok = admin.put(f"{BASE}/rules/price_jump", body, content_type="application/json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["enabled"] is False and ok.json()["params"][0]["value"] == "20"
    bad = admin.put(f"{BASE}/rules/price_jump", {"params": {"days": -1}}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["field"] == "params.days"
    extra = admin.put(f"{BASE}/rules/price_jump", {"colour": "red"}, content_type="application/json")
    assert extra.status_code == 422
    assert len(readonly.get(f"{BASE}/rules").json()) == len(audit.audit_rule_choices())


def test_api_run_queues_a_job(api, catalog, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api("organiser").post(f"{BASE}/run", {}, content_type="application/json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job_id"])
    assert job.state == Job.State.DONE and job.result["score"] == 85.0
    assert api("readonly").post(f"{BASE}/run", {}, content_type="application/json").status_code == 403


# --- CLI -------------------------------------------------------------------------------------------------


def test_cli_audit_json_and_product(make):  # noqa: F811
    make(brand="")
    p = make(images=())
    result = CliRunner().invoke(main, ["catalog", "audit", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["score"] == 82.5 and data["products"] == 2
    assert data["by_rule"]["image_missing"] == {"findings": 1, "products": 1}
    assert data["run"]["products"] == 2
    sku = p.variants.get().sku
    result = CliRunner().invoke(main, ["catalog", "audit", "--product", sku])
    assert result.exit_code == 0, result.output
    assert "Catalog score: 82.5 / 100" in result.output
    assert "[error] No image." in result.output
    result = CliRunner().invoke(main, ["catalog", "audit", "--product", "NOPE"])
    assert result.exit_code != 0 and "Unknown SKU: NOPE" in result.output

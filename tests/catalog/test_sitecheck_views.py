"""Storefront check doors: the screens, the API and `zaplecze catalog check-site` against the fake shop."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from django.test import Client
from django.urls import reverse

from zaplecze.catalog import sitecheck as sc
from zaplecze.catalog.models import SiteCheckPage, SiteCheckRun
from zaplecze.core.services import token_create

from .fakeshop import fakeshop_fixture  # noqa: F401 - the "fakeshop" fixture

API = "/api/v1/catalog/site-checks"


def shop_with_two_pages(shop, product_factory):
    mug = product_factory(sku="MUG-1", price="49.99", name="Kubek")
    product_factory(sku="CUP-1", price="19.00", name="Filiżanka")
    shop.product("/p/mug", name="Kubek", sku="MUG-1", price="59.99")
    shop.product("/p/cup", name="Filiżanka", sku="CUP-1", price="19.00")
    shop.sitemap("/sitemap.xml", ["/p/mug", "/p/cup", "/p/gone"])
    return mug


def test_start_a_check_from_the_screen_and_read_the_report(
    fakeshop, product_factory, admin_client, django_capture_on_commit_callbacks
):
    mug = shop_with_two_pages(fakeshop, product_factory)
    page = admin_client.get(reverse("catalog:sitecheck"))
    assert page.status_code == 200 and b"data-sitecheck-form" in page.content
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the task at once in tests
        response = admin_client.post(
            reverse("catalog:sitecheck_start"),
            {"base_url": fakeshop.url("/"), "channel": "", "max_pages": 10, "rate": 20},
        )
    run = SiteCheckRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "catalog:sitecheck_run", args=[run.pk]
    )
    assert (run.state, run.pages, run.ok, run.mismatched, run.failed, run.created_by.username) == (
        "done",
        3,
        1,
        1,
        1,
        "admin",
    )
    report = admin_client.get(response["Location"]).content.decode()
    assert 'data-code="price"' in report and 'data-code="http_status"' in report
    assert "59.99" in report and "49.99" in report and "Filiżanka" not in report  # agreeing pages hidden
    everything = admin_client.get(response["Location"] + "?all=1").content.decode()
    assert "Filiżanka" in everything
    only_price = admin_client.get(response["Location"] + "?code=price").content.decode()
    assert 'data-code="price"' in only_price and 'data-code="http_status"' not in only_price
    export = admin_client.get(reverse("catalog:sitecheck_csv", args=[run.pk]) + "?code=price")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows == [
        sc.CSV_HEADER,
        [str(run.pk), fakeshop.url("/p/mug"), "MUG-1", "Kubek", "200", rows[1][5], "price", "49.99", "59.99"],
    ]
    history = admin_client.get(reverse("catalog:sitecheck_product", args=[mug.product_id])).content.decode()
    assert 'data-variant="MUG-1" data-state="mismatched"' in history
    panel = admin_client.get(reverse("catalog:product", args=[mug.product_id])).content.decode()
    assert "data-sitecheck-panel" in panel and 'data-state="mismatched"' in panel


def test_progress_partial_and_bad_input_on_the_screen(fakeshop, admin_client, db):
    run = sc.site_check_start(params=sc.CheckParams(base_url=fakeshop.url("/")), queue=False)
    partial = admin_client.get(
        reverse("catalog:sitecheck_run", args=[run.pk]) + "?progress=1", HTTP_HX_REQUEST="true"
    )
    assert (
        partial.status_code == 200
        and b'data-state="queued"' in partial.content
        and b"hx-get" in partial.content
    )
    bad = admin_client.post(reverse("catalog:sitecheck_start"), {"base_url": "", "max_pages": 10, "rate": 2})
    assert bad.status_code == 400 and b"Enter the shop address, or list the pages to check." in bad.content
    bad = admin_client.post(
        reverse("catalog:sitecheck_start"), {"base_url": "shop.pl", "urls": "", "max_pages": 10, "rate": 2}
    )
    assert bad.status_code == 400 and b"Enter a full http:// or https:// address." in bad.content
    assert SiteCheckRun.objects.count() == 1


def test_a_read_only_user_sees_reports_but_cannot_start_a_check(make_user, fakeshop, db):
    client = Client()
    client.force_login(make_user("readonly"))
    page = client.get(reverse("catalog:sitecheck"))
    assert page.status_code == 200 and b"data-sitecheck-form" not in page.content
    denied = client.post(
        reverse("catalog:sitecheck_start"), {"base_url": fakeshop.url("/"), "max_pages": 1, "rate": 1}
    )
    assert denied.status_code == 403 and SiteCheckRun.objects.count() == 0 and fakeshop.hits == []


def test_the_api_starts_lists_and_reports(
    fakeshop, product_factory, make_user, django_capture_on_commit_callbacks
):
    shop_with_two_pages(fakeshop, product_factory)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('organiser'))}")
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            API,
            {"base_url": fakeshop.url("/"), "max_pages": 2, "rate": 0, "channel": ""},
            content_type="application/json",
        )
    assert started.status_code == 202, started.content
    body = started.json()
    assert (body["state"], body["base_url"], body["pages_total"]) == ("queued", fakeshop.url("/"), None)
    [listed] = client.get(API).json()
    assert (listed["id"], listed["state"], listed["pages_done"], listed["pages_total"]) == (
        body["id"],
        "done",
        2,
        2,
    )
    report = client.get(f"{API}/{body['id']}?problems_only=true").json()
    assert report["problem_counts"] == {"price": 1}
    assert [(r["sku"], r["state"], r["problems"]) for r in report["results"]] == [
        ("MUG-1", "mismatched", [{"code": "price", "expected": "49.99", "found": "59.99"}])
    ]
    paged = client.get(f"{API}/{body['id']}?limit=1&page=2").json()
    assert (paged["page"], paged["pages"], len(paged["results"])) == (2, 2, 1)
    assert client.get(f"{API}/999999").status_code == 404
    bad = client.post(API, {"base_url": "ftp://x"}, content_type="application/json")
    assert (bad.status_code, bad.json()["field"]) == (400, "base_url")
    unknown = client.post(
        API, {"base_url": fakeshop.url("/"), "admin": True}, content_type="application/json"
    )
    assert unknown.status_code == 422
    assert SiteCheckRun.objects.count() == 1


def test_the_cli_runs_synchronously_and_prints_json(fakeshop, product_factory, tmp_path):
    from zaplecze.cli import main

    shop_with_two_pages(fakeshop, product_factory)
    result = CliRunner().invoke(main, ["catalog", "check-site", fakeshop.url("/"), "--rate", "0", "--json"])
    assert result.exit_code == 1, result.output  # a page disagrees
    report = json.loads(result.stdout)
    assert (report["state"], report["pages"], report["ok"], report["mismatched"], report["failed"]) == (
        "done",
        3,
        1,
        1,
        1,
    )
    assert {r["url"].rsplit("/", 1)[1]: r["state"] for r in report["results"]} == {
        "mug": "mismatched",
        "cup": "ok",
        "gone": "failed",
    }
    listed = tmp_path / "urls.txt"
    listed.write_text(f"{fakeshop.url('/p/cup')}\n# a comment\n\n")
    ok = CliRunner().invoke(
        main, ["catalog", "check-site", fakeshop.url("/"), "--urls", str(listed), "--max-pages", "5"]
    )
    assert ok.exit_code == 0, ok.output
    assert "1 pages: 1 OK, 0 with mismatches" in ok.stdout
    failed = CliRunner().invoke(
        main, ["catalog", "check-site", fakeshop.url("/"), "--sitemap", fakeshop.url("/x.xml")]
    )
    assert failed.exit_code == 2 and "could not be read (HTTP 404)" in failed.output
    bad = CliRunner().invoke(main, ["catalog", "check-site", "not-a-url"])
    assert bad.exit_code == 2 and "Enter a full http:// or https:// address. (base_url)" in bad.output
    assert SiteCheckPage.objects.filter(run__state="done").count() == 4

"""Storefront check against a small shop on loopback (tests/catalog/fakeshop.py): fetching politely,
matching pages to variants, comparing with the catalog, and the run with its history."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from zaplecze.catalog import sitecheck as sc
from zaplecze.catalog.models import Offer, SiteCheckPage, SiteCheckRun
from zaplecze.core.models import Job

from .fakeshop import Reply, fakeshop_fixture  # noqa: F401 - the "fakeshop" fixture

FAST = {
    "rate": 0,
    "read_timeout": 0.5,
    "connect_timeout": 1,
    "backoff": 0.01,
    "retries": 1,
    "max_retry_after": 2,
}


def run_check(shop, **kw) -> SiteCheckRun:
    params = sc.CheckParams(base_url=shop.url("/"), **{**FAST, **kw})
    run = sc.site_check_start(params=params, queue=False)
    return sc.site_check_execute(run_id=run.pk)


def results(run) -> dict[str, list[dict]]:
    return {r.url.split("/", 3)[3]: r.problems for r in SiteCheckPage.objects.filter(run=run)}


def fetcher(**kw) -> sc.Fetcher:
    return sc.Fetcher(sc.Politeness(**{**FAST, **kw}))


def test_pages_that_agree_with_the_catalog(fakeshop, product_factory):
    mug = product_factory(sku="MUG-1", price="49.99", name="Kubek")
    cup = product_factory(sku="CUP-1", price="19.00", ean="5901234123457", name="Filiżanka")
    fakeshop.product("/p/mug", name="Kubek", sku="MUG-1", price="49.99")
    fakeshop.product("/p/cup", name="filiżanka ", gtin="5901234123457", price="19")  # matched by GTIN
    fakeshop.sitemap("/sitemap.xml", ["/p/mug", "/p/cup"])
    run = run_check(fakeshop)
    assert (run.state, run.pages, run.ok, run.mismatched, run.failed, run.error) == ("done", 2, 2, 0, 0, "")
    rows = {r.url: r for r in run.results.all()}
    assert rows[fakeshop.url("/p/mug")].variant == mug and rows[fakeshop.url("/p/cup")].variant == cup
    assert all(r.problems == [] and r.http_status == 200 and r.fetch_ms is not None for r in rows.values())
    # robots.txt was read once, every request said who we are
    assert len(fakeshop.hits_for("/robots.txt")) == 1
    assert {h.user_agent for h in fakeshop.hits} == {sc.USER_AGENT}
    job = Job.objects.get(kind=sc.JOB_KIND, params__run_id=run.pk)
    assert (job.state, job.progress_done, job.progress_total, job.result["ok"]) == ("done", 2, 2, 2)


def test_price_name_and_stock_mismatches(fakeshop, product_factory):
    product_factory(sku="A", price="49.99", name="Kubek", stock=10)
    product_factory(sku="B", price="10.00", name="Talerz", stock=3)
    product_factory(sku="C", price="5.00", name="Łyżka", stock=10)
    product_factory(sku="D", price="7.00", name="Widelec", stock=0)
    fakeshop.product("/a", name="Kubek", sku="A", price="59.99")
    fakeshop.product("/b", name="Talerz głęboki", sku="B", price="10.00")
    fakeshop.product("/c", name="Łyżka", sku="C", price="5.00", availability="https://schema.org/OutOfStock")
    fakeshop.product("/d", name="Widelec", sku="D", price="7.00", availability="InStock")
    fakeshop.sitemap("/sitemap.xml", ["/a", "/b", "/c", "/d"])
    run = run_check(fakeshop)
    assert results(run) == {
        "a": [{"code": "price", "expected": "49.99", "found": "59.99"}],
        "b": [{"code": "name", "expected": "Talerz", "found": "Talerz głęboki"}],
        "c": [{"code": "availability", "expected": "InStock", "found": "OutOfStock"}],
        "d": [{"code": "availability", "expected": "OutOfStock", "found": "InStock"}],
    }
    assert (run.ok, run.mismatched, run.failed) == (0, 4, 0)


def test_the_channel_price_is_compared_when_a_channel_is_given(fakeshop, product_factory):
    mug = product_factory(sku="MUG-1", price="49.99", name="Kubek")
    from zaplecze.catalog.prices import price_set

    Offer.objects.create(variant=mug, channel="shop")
    price_set(mug, price=Decimal("55.00"), channel="shop", source="test")  # a raise: no reduction
    fakeshop.product("/p/mug", name="Kubek", sku="MUG-1", price="49.99")
    fakeshop.sitemap("/sitemap.xml", ["/p/mug"])
    assert results(run_check(fakeshop, channel="shop")) == {
        "p/mug": [{"code": "price", "expected": "55.00", "found": "49.99"}]
    }
    assert results(run_check(fakeshop)) == {"p/mug": []}


def _raised_then_cut(variant):
    """54.99 forty days ago, raised to 59.99 twenty days ago, cut to 49.99 yesterday: the reference price
    (lowest of the 30 days before the cut) is 54.99, not the 59.99 just before it."""
    from zaplecze.catalog.models import PriceChange

    now = timezone.now()
    PriceChange.objects.filter(variant=variant).delete()  # the history starts 40 days ago in this test
    for days, price in ((40, "54.99"), (20, "59.99"), (1, "49.99")):
        PriceChange.objects.create(
            variant=variant, price=Decimal(price), effective_from=now - dt.timedelta(days=days), source="test"
        )


def test_a_reduced_price_needs_the_lowest_30_day_price_next_to_it(fakeshop, product_factory):
    for sku in ("OK", "NONE", "WRONG"):
        _raised_then_cut(product_factory(sku=sku, price="49.99", name=sku))
    label = "<p>Najniższa cena z 30 dni przed obniżką: <b>{}</b></p>"
    fakeshop.product(
        "/ok", name="OK", sku="OK", price="49.99", regular_price="59.99", body_html=label.format("54,99 zł")
    )
    fakeshop.product("/none", name="NONE", sku="NONE", price="49.99", regular_price="59.99")
    fakeshop.product("/wrong", name="WRONG", sku="WRONG", price="49.99", body_html=label.format("59,99 zł"))
    fakeshop.sitemap("/sitemap.xml", ["/ok", "/none", "/wrong"])
    assert results(run_check(fakeshop)) == {
        "ok": [],
        "none": [{"code": "omnibus_missing", "expected": "54.99", "found": ""}],
        "wrong": [{"code": "omnibus_price", "expected": "54.99", "found": "59.99"}],
    }


def test_a_strikethrough_price_on_the_page_needs_the_label_even_when_the_catalog_has_no_reduction(
    fakeshop, product_factory
):
    product_factory(sku="S", price="49.99", name="S")
    fakeshop.product("/s", name="S", sku="S", price="49.99", regular_price="69.99")
    fakeshop.sitemap("/sitemap.xml", ["/s"])
    assert results(run_check(fakeshop)) == {
        "s": [
            {
                "code": "omnibus_missing",
                "expected": "lowest price of the 30 days before the reduction",
                "found": "",
            }
        ]
    }


def test_broken_images_missing_images_and_the_image_cap(fakeshop, product_factory):
    product_factory(sku="A", name="A")
    product_factory(sku="B", name="B")
    product_factory(sku="C", name="C")
    fakeshop.image("/img/html.png", content_type="text/html")
    fakeshop.product("/a", name="A", sku="A", images=["/img/1.png", "/img/404.png", "/img/html.png"])
    fakeshop.product("/b", name="B", sku="B", images=[])
    fakeshop.product("/c", name="C", sku="C", images=["/img/1.png", "/img/1.png", "/img/404.png"])
    fakeshop.sitemap("/sitemap.xml", ["/a", "/b", "/c"])
    run = run_check(fakeshop, images_per_page=2)
    assert results(run) == {
        "a": [{"code": "image_broken", "expected": fakeshop.url("/img/404.png"), "found": "HTTP 404"}],
        "b": [{"code": "image_missing", "expected": "an image", "found": ""}],
        "c": [{"code": "image_broken", "expected": fakeshop.url("/img/404.png"), "found": "HTTP 404"}],
    }
    # each image fetched once per run, with HEAD; the third image of /a is past the cap
    assert [h.method for h in fakeshop.hits_for("/img/1.png")] == ["HEAD"]
    assert [h.method for h in fakeshop.hits_for("/img/404.png")] == ["HEAD"]  # a 4xx is not retried
    assert fakeshop.hits_for("/img/html.png") == []


def test_404_timeout_redirect_loop_and_invalid_json_ld(fakeshop, product_factory):
    product_factory(sku="J", name="J")
    fakeshop.add("/slow", Reply(body=b"late", delay=1.5))
    fakeshop.add("/loop", Reply(302, headers={"Location": "/loop2"}))
    fakeshop.add("/loop2", Reply(301, headers={"Location": "/loop"}))
    fakeshop.product("/bad-json", name="J", sku="J", jsonld='{"@type": "Product", "sku": "J",,}')
    fakeshop.sitemap("/sitemap.xml", ["/gone", "/slow", "/loop", "/bad-json"])
    run = run_check(fakeshop, retries=0)
    got = results(run)
    assert got["gone"] == [{"code": "http_status", "expected": "200", "found": "404"}]
    assert got["slow"] == [{"code": "fetch_failed", "expected": "HTTP 200", "found": "timeout"}]
    assert got["loop"] == [
        {"code": "fetch_failed", "expected": "HTTP 200", "found": f"redirect loop: {fakeshop.url('/loop')}"}
    ]
    [(code, found)] = [(p["code"], p["found"]) for p in got["bad-json"] if p["code"] == "jsonld_invalid"]
    assert found.startswith("block 1: Expecting property name")
    assert {p["code"] for p in got["bad-json"]} == {"jsonld_invalid", "no_product_data"}
    assert (run.state, run.pages, run.ok, run.mismatched, run.failed) == ("done", 4, 0, 1, 3)


def test_a_5xx_is_retried_and_then_reported(fakeshop, product_factory):
    product_factory(sku="A", name="A")
    answers = iter([Reply(503), Reply(500)])
    fakeshop.add("/flaky", lambda hit: next(answers, None) or Reply(body=b"", status=500))
    ok_after = iter([Reply(502)])

    def recover(hit):
        return next(ok_after, None) or Reply(body=fakeshop_page(fakeshop, "A", "A"))

    fakeshop.add("/recovers", recover)
    fakeshop.sitemap("/sitemap.xml", ["/flaky", "/recovers"])
    got = results(run_check(fakeshop, retries=2))
    assert got == {"flaky": [{"code": "http_status", "expected": "200", "found": "500"}], "recovers": []}
    assert len(fakeshop.hits_for("/flaky")) == 3 and len(fakeshop.hits_for("/recovers")) == 2


def fakeshop_page(shop, name: str, sku: str) -> bytes:
    from .fakeshop import product_html

    return product_html(name=name, sku=sku, images=[shop.url("/img/1.png")]).encode()


def test_robots_txt_disallow_is_honoured(fakeshop, product_factory):
    product_factory(sku="A", name="A")
    fakeshop.robots("User-agent: *\nDisallow: /admin\n\nUser-agent: ZapleczeBot\nDisallow: /private/\n")
    fakeshop.product("/private/a", name="A", sku="A")
    fakeshop.product("/admin/a", name="A", sku="A")
    fakeshop.sitemap("/sitemap.xml", ["/private/a", "/admin/a"])
    run = run_check(fakeshop)
    got = results(run)
    assert got["private/a"] == [{"code": "robots_disallowed", "expected": "allowed", "found": "Disallow"}]
    assert got["admin/a"] == []  # the "*" group does not apply to us when a group names us
    assert fakeshop.hits_for("/private/a") == []
    assert run.failed == 1


def test_sitemap_from_robots_an_index_and_gzip_files_with_the_page_cap(fakeshop, product_factory):
    fakeshop.robots(f"User-agent: *\nAllow: /\nSitemap: {fakeshop.url('/maps/index.xml')}\n")
    fakeshop.sitemap("/maps/index.xml", ["/maps/a.xml.gz", "/maps/b.xml", "/maps/missing.xml"], index=True)
    fakeshop.sitemap("/maps/a.xml.gz", ["/p/1", "/p/2"], gz=True)
    fakeshop.sitemap("/maps/b.xml", ["/p/2", "/p/3", "http://elsewhere.example/p/9"])
    urls, notes = sc.collect_urls(fetcher(), base_url=fakeshop.url("/"), limit=10)
    assert urls == [fakeshop.url("/p/1"), fakeshop.url("/p/2"), fakeshop.url("/p/3")]
    assert notes == [
        "1 URL(s) on other hosts or with other schemes skipped",
        f"sitemap {fakeshop.url('/maps/missing.xml')} not read (HTTP 404)",
    ]
    capped, _notes = sc.collect_urls(fetcher(), base_url=fakeshop.url("/"), limit=2)
    assert capped == urls[:2]
    assert fakeshop.hits_for("/sitemap.xml") == []


def test_a_sitemap_that_does_not_load_fails_the_run_with_the_reason(fakeshop, db):
    run = run_check(fakeshop, sitemap_url=fakeshop.url("/nope.xml"))
    assert run.state == "failed"
    assert run.error == f"The sitemap {fakeshop.url('/nope.xml')} could not be read (HTTP 404)."
    assert Job.objects.get(params__run_id=run.pk).state == "failed"


def test_429_retry_after_is_honoured(fakeshop, product_factory):
    product_factory(sku="A", name="A")
    replies = iter([Reply(429, headers={"Retry-After": "1"})])
    fakeshop.add("/a", lambda hit: next(replies, None) or Reply(body=fakeshop_page(fakeshop, "A", "A")))
    fakeshop.sitemap("/sitemap.xml", ["/a"])
    assert results(run_check(fakeshop)) == {"a": []}
    first, second = fakeshop.hits_for("/a")
    assert second.at - first.at >= 0.95


def test_a_429_asking_for_too_long_a_wait_is_not_retried(fakeshop):
    fakeshop.add("/a", Reply(429, headers={"Retry-After": "3600"}))
    got = fetcher(retries=3).fetch(fakeshop.url("/a"))
    assert (got.status, got.attempts, len(fakeshop.hits_for("/a"))) == (429, 1, 1)


def test_the_rate_limit_spaces_requests_to_one_host(fakeshop):
    for n in range(4):
        fakeshop.add(f"/r{n}", Reply(body=b"ok"))
    f = fetcher(rate=10)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: f.fetch(fakeshop.url(f"/r{n}")), range(4)))
    times = sorted(h.at for h in fakeshop.hits if h.path.startswith("/r"))
    assert times[-1] - times[0] >= 0.28  # 4 requests at 10/s: at least 3 intervals of 0.1 s


def test_a_response_over_the_size_limit_is_refused(fakeshop):
    fakeshop.add("/big", Reply(body=b"x" * 20_000))
    got = fetcher(max_bytes=10_000).fetch(fakeshop.url("/big"))
    assert (got.error, got.body) == ("too_large", b"")


def test_unknown_products_and_matching_by_the_offer_url(fakeshop, product_factory):
    mug = product_factory(sku="MUG-1", price="49.99", name="Kubek")
    Offer.objects.create(variant=mug, channel="shop", url=fakeshop.url("/kubek/"))
    fakeshop.product("/kubek", name="Kubek", sku="SHOP-777", price="49.99")  # the shop's own SKU
    fakeshop.product("/other", name="Nieznany", sku="X-1")
    fakeshop.sitemap("/sitemap.xml", ["/kubek", "/other"])
    run = run_check(fakeshop, channel="shop")
    rows = {r.url.rsplit("/", 1)[1]: r for r in run.results.all()}
    assert rows["kubek"].variant == mug and rows["kubek"].problems == []
    assert rows["other"].variant is None
    assert rows["other"].problems == [
        {"code": "unknown_product", "expected": "SKU, GTIN or listing URL of the catalog", "found": "X-1"}
    ]
    assert (run.ok, run.mismatched, run.failed) == (1, 0, 0)


def test_an_explicit_url_list_and_meta_tags_only(fakeshop, product_factory):
    product_factory(sku="M", price="12.00", name="Miska")
    fakeshop.product("/m", name="Miska", sku="M", price="12.00", meta_only=True)
    run = run_check(fakeshop, urls=[fakeshop.url("/m")], sitemap_url=fakeshop.url("/never.xml"))
    assert results(run) == {"m": []}
    assert fakeshop.hits_for("/never.xml") == []


def test_a_run_is_executed_once_and_history_is_kept_per_product(fakeshop, product_factory):
    mug = product_factory(sku="MUG-1", price="49.99", name="Kubek")
    fakeshop.product("/p/mug", name="Kubek", sku="MUG-1", price="59.99")
    fakeshop.sitemap("/sitemap.xml", ["/p/mug"])
    first = run_check(fakeshop)
    assert sc.site_check_execute(run_id=first.pk).results.count() == 1  # a finished run is left alone
    fakeshop.product("/p/mug", name="Kubek", sku="MUG-1", price="49.99")
    second = run_check(fakeshop)
    checks = sc.product_checks(mug.product_id)
    [latest] = checks["latest"]
    assert (latest.run_id, latest.state) == (second.pk, "ok")
    assert [(t["run"].pk, t["problems"]) for t in checks["trend"]] == [(second.pk, 0), (first.pk, 1)]


def test_bad_parameters_are_refused_naming_the_field(db):
    from zaplecze.core.errors import DomainError

    for kw, field in (
        ({"base_url": "ftp://shop.pl"}, "base_url"),
        ({"base_url": "https://shop.pl", "sitemap_url": "sitemap.xml"}, "sitemap_url"),
        ({"base_url": "https://shop.pl", "max_pages": 0}, "max_pages"),
        ({"base_url": "https://shop.pl", "urls": ["https://shop.pl/a", "javascript:alert(1)"]}, "urls"),
    ):
        with pytest.raises(DomainError) as err:
            sc.site_check_start(params=sc.CheckParams(**kw), queue=False)
        assert err.value.field == field
    assert SiteCheckRun.objects.count() == 0


def test_retry_after_as_an_http_date():
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    assert 25 < sc._retry_after(when.strftime("%a, %d %b %Y %H:%M:%S GMT")) <= 30
    assert sc._retry_after("soon") is None


def test_the_limiter_defers_a_host_for_every_thread():
    limiter = sc.HostLimiter(0)
    limiter.defer("a", 0.2)
    started = time.monotonic()
    limiter.wait("a")
    limiter.wait("b")
    assert 0.15 <= time.monotonic() - started < 2

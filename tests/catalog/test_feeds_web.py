"""Feeds at their secret addresses (token, 304, content types), the feeds screens, the API and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils.http import http_date

from zaplecze.catalog import feeds
from zaplecze.catalog.models import Feed, FeedExclusion, Product, ProductImage, Variant
from zaplecze.core.models import Job
from zaplecze.core.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.BASE_URL = "https://zaplecze.example"


def product(sku: str, *, ean: str = "5901234123457", image: bool = True) -> Variant:
    p = Product.objects.create(name=f"Kubek {sku}", brand="ExampleHome", description_html="<p>Kubek.</p>")
    v = Variant.objects.create(product=p, sku=sku, ean=ean, name=p.name, price=Decimal("49.99"))
    if image:
        ProductImage.objects.create(product=p, source_url=f"https://shop.example/{sku}.jpg")
    return v


def built_feed(kind: str = "google", **data) -> Feed:
    feed = feeds.feed_create(
        data={"name": f"Feed {kind}", "kind": kind, "link_template": "https://shop.example/p/{sku}", **data}
    )
    feeds.feed_build(feed_id=feed.pk)
    feed.refresh_from_db()
    return feed


# --- public addresses ---------------------------------------------------------------------------------


def test_the_feed_is_served_at_its_secret_address_with_caching_headers(client):
    product("A-1")
    feed = built_feed()

    response = client.get(f"/feeds/{feed.token}/google.xml")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body == feeds.feed_file(feed).read_bytes() and b"<g:id>A-1</g:id>" in body
    assert response["ETag"] and response["Last-Modified"]
    assert feeds.feed_public_url(feed) == f"https://zaplecze.example/feeds/{feed.token}/google.xml"


def test_unchanged_feed_answers_304_to_etag_and_if_modified_since(client):
    product("A-1")
    feed = built_feed()
    first = client.get(f"/feeds/{feed.token}/google.xml")

    by_etag = client.get(f"/feeds/{feed.token}/google.xml", headers={"if-none-match": first["ETag"]})
    by_date = client.get(
        f"/feeds/{feed.token}/google.xml", headers={"if-modified-since": first["Last-Modified"]}
    )
    stale = client.get(f"/feeds/{feed.token}/google.xml", headers={"if-modified-since": http_date(0)})

    assert (by_etag.status_code, by_date.status_code, stale.status_code) == (304, 304, 200)
    assert by_etag.content == b""


def test_a_wrong_token_or_file_name_is_404_and_a_regenerated_token_replaces_the_old(client):
    product("A-1")
    feed = built_feed()
    old = feed.token

    assert client.get(f"/feeds/{old}x/google.xml").status_code == 404
    assert client.get(f"/feeds/{old}/ceneo.xml").status_code == 404  # a Google feed has no Ceneo file
    assert client.get("/feeds/nope/products.csv").status_code == 404

    feeds.feed_token_regenerate(feed_id=feed.pk)
    feed.refresh_from_db()

    assert feed.token != old
    assert client.get(f"/feeds/{old}/google.xml").status_code == 404
    assert client.get(f"/feeds/{feed.token}/google.xml").status_code == 200
    feeds.feed_update(feed_id=feed.pk, data={"active": False})
    assert client.get(f"/feeds/{feed.token}/google.xml").status_code == 404


def test_ceneo_and_csv_feeds_have_their_own_file_names_and_types(client):
    product("A-1")
    ceneo = built_feed("ceneo")
    csv_feed = built_feed("csv")

    c = client.get(f"/feeds/{ceneo.token}/ceneo.xml")
    s = client.get(f"/feeds/{csv_feed.token}/products.csv")

    assert c.status_code == 200 and c["Content-Type"] == "application/xml; charset=utf-8"
    assert s.status_code == 200 and s["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(s.streaming_content).startswith(b"sku,ean,mpn")


def test_a_feed_never_built_answers_503(client):
    feed = feeds.feed_create(data={"name": "New", "kind": "google"})

    response = client.get(f"/feeds/{feed.token}/google.xml")

    assert response.status_code == 503 and response["Retry-After"]


def test_a_reader_keeps_the_whole_old_file_while_a_rebuild_replaces_it(client):
    product("A-1")
    feed = built_feed()
    response = client.get(f"/feeds/{feed.token}/google.xml")
    old = feeds.feed_file(feed).read_bytes()

    product("A-2", ean="5901234123464")
    feeds.feed_build(feed_id=feed.pk)  # renamed over the served file while the response is still open

    assert b"".join(response.streaming_content) == old
    assert b"A-2" in feeds.feed_file(feed).read_bytes()


# --- screens ------------------------------------------------------------------------------------------


def test_feeds_page_lists_feeds_with_counts_and_addresses(admin_client):
    product("A-1")
    product("A-2", image=False)
    feed = built_feed()

    page = admin_client.get(reverse("catalog:feeds"))

    assert page.status_code == 200
    html = page.content.decode()
    assert feeds.feed_public_url(feed) in html
    assert f'data-feed-id="{feed.pk}"' in html


def test_warehouse_staff_see_feeds_without_the_secret_address(client, make_user):
    product("A-1")
    feed = built_feed()
    client.force_login(make_user("warehouse"))

    html = client.get(reverse("catalog:feeds")).content.decode()

    assert feed.name in html and feed.token not in html


def test_feed_page_lists_exclusions_filtered_by_reason_and_exports_them(admin_client):
    product("A-1")
    product("NOIMG", ean="5901234123464", image=False)
    product("BADEAN", ean="5901234123465")
    feed = built_feed()

    page = admin_client.get(reverse("catalog:feed", args=[feed.pk]), {"reason": "no_image"})
    export = admin_client.get(reverse("catalog:feed_exclusions_csv", args=[feed.pk]))

    html = page.content.decode()
    assert 'data-sku="NOIMG"' in html and 'data-sku="BADEAN"' not in html
    assert "No image" in html
    rows = export.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "sku,product_id,name,reasons,explanation"
    assert sorted(r.split(",")[0] for r in rows[1:]) == ["BADEAN", "NOIMG"]


def test_create_edit_rebuild_and_new_token_from_the_screens(admin_client, django_capture_on_commit_callbacks):
    product("A-1")
    response = admin_client.post(
        reverse("catalog:feed_new"),
        {
            "name": "Ceneo",
            "kind": "ceneo",
            "channel": "",
            "link_template": "https://s.example/{sku}",
            "active": "on",
        },
    )
    feed = Feed.objects.get(name="Ceneo")
    assert response.status_code == 302 and feed.link_template == "https://s.example/{sku}"

    bad = admin_client.post(
        reverse("catalog:feed_edit", args=[feed.pk]),
        {"name": "Ceneo", "kind": "ceneo", "link_template": "x{y}"},
    )
    assert bad.status_code == 400 and "link template" in bad.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        rebuilt = admin_client.post(reverse("catalog:feed_rebuild", args=[feed.pk]))
    job = Job.objects.get(kind="catalog.feed")
    assert rebuilt.status_code == 302 and job.state == Job.State.DONE
    feed.refresh_from_db()
    assert feed.items == 0 and feed.excluded == 1  # no category: Ceneo needs one
    assert job.result["by_reason"] == {"no_category": 1}

    old = feed.token
    admin_client.post(reverse("catalog:feed_token", args=[feed.pk]))
    feed.refresh_from_db()
    assert feed.token != old

    download = admin_client.get(reverse("catalog:feed_download", args=[feed.pk]))
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]


def test_product_panel_says_which_feeds_include_a_variant_and_why_one_is_left_out(rf, admin_user):
    from zaplecze.catalog.panels_feeds import feeds_panel

    ok = product("A-1")
    Variant.objects.create(product=ok.product, sku="A-1-NOEAN", name="x", price=Decimal(1), mpn="")
    feed = built_feed()
    request = rf.get("/")
    request.user = admin_user

    panel = feeds_panel(request, ok.product)

    (entry,) = panel["context"]["feed_status"]
    states = {r["variant"].sku: (r["state"], r["reasons"]) for r in entry["rows"]}
    assert entry["feed"] == feed
    assert states == {
        "A-1": ("included", []),
        "A-1-NOEAN": ("excluded", [feeds.reason_label("no_gtin")]),
    }
    html = render_to_string(
        panel["template"], {**panel["context"], "product": ok.product, "request": request}
    )
    assert 'data-sku="A-1-NOEAN" data-state="excluded"' in html and "no MPN" in html


# --- API ----------------------------------------------------------------------------------------------


@pytest.fixture
def api(make_user):
    def _api(role="admin"):
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user(role))}")

    return _api


def test_api_create_list_patch_rebuild_and_exclusions(api):
    product("A-1")
    product("NOIMG", ean="5901234123464", image=False)
    client = api()

    created = client.post(
        "/api/v1/catalog/feeds",
        {
            "name": "Google",
            "kind": "google",
            "link_template": "https://s.example/{sku}",
            "shipping_price": "9.99",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    feed_id = created.json()["id"]
    assert created.json()["url"].startswith("https://zaplecze.example/feeds/")

    patched = client.patch(
        f"/api/v1/catalog/feeds/{feed_id}", {"name": "Google PL"}, content_type="application/json"
    )
    assert patched.json()["name"] == "Google PL" and patched.json()["shipping_price"] == "9.99"

    built = client.post(
        f"/api/v1/catalog/feeds/{feed_id}/rebuild", {"wait": True}, content_type="application/json"
    )
    assert built.status_code == 200
    assert built.json()["feed"]["items"] == 1 and built.json()["by_reason"] == {"no_image": 1}

    page = client.get(f"/api/v1/catalog/feeds/{feed_id}/exclusions", {"reason": "no_image"})
    assert page.status_code == 200
    assert [i["sku"] for i in page.json()["items"]] == ["NOIMG"] and page.json()["counts"] == {"no_image": 1}
    assert client.get(f"/api/v1/catalog/feeds/{feed_id}/exclusions", {"reason": "bogus"}).status_code == 400
    assert [f["id"] for f in client.get("/api/v1/catalog/feeds").json()] == [feed_id]


def test_api_refuses_bad_settings_naming_the_field_and_hides_the_address_from_viewers(api):
    client = api()
    bad = client.post(
        "/api/v1/catalog/feeds",
        {"name": "G", "kind": "google", "link_template": "ftp://x/{sku}"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["field"] == "link_template"
    feeds.feed_create(data={"name": "G", "kind": "google"})

    listed = api("warehouse").get("/api/v1/catalog/feeds").json()

    assert listed[0]["url"] is None
    assert Feed.objects.count() == 1


def test_api_token_regeneration(api):
    feed = feeds.feed_create(data={"name": "G", "kind": "google"})

    response = api().post(f"/api/v1/catalog/feeds/{feed.pk}/token", {}, content_type="application/json")

    assert response.status_code == 200
    feed.refresh_from_db()
    assert response.json()["url"].endswith(f"/feeds/{feed.token}/google.xml")


# --- CLI ----------------------------------------------------------------------------------------------


def test_cli_writes_the_feed_to_a_file_and_counts_to_stderr(tmp_path):
    import click

    from zaplecze.catalog.cli import feed_group, register_cli  # noqa: F401

    main = click.Group()
    register_cli(main)
    product("A-1")
    product("NOIMG", ean="5901234123464", image=False)
    out = tmp_path / "google.xml"

    result = CliRunner().invoke(
        main, ["feed", "google", "-o", str(out), "--link-template", "https://s.example/{sku}"]
    )

    assert result.exit_code == 0, result.output
    assert "<g:id>A-1</g:id>" in out.read_text()
    assert "included: 1, excluded: 1" in result.stderr and "no_image: 1" in result.stderr


def test_cli_writes_to_stdout_and_refuses_a_bad_option():
    import click

    from zaplecze.catalog.cli import register_cli

    main = click.Group()
    register_cli(main)
    product("A-1")

    result = CliRunner().invoke(main, ["feed", "csv", "-o", "-"])
    bad = CliRunner().invoke(main, ["feed", "ceneo", "-o", "-", "--link-template", "nope"])

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("sku,ean,mpn") and "A-1" in result.stdout
    assert bad.exit_code == 2 and "--link-template" in bad.stderr


def test_exclusions_are_replaced_at_each_build():
    v = product("NOIMG", image=False)
    feed = built_feed()
    assert FeedExclusion.objects.filter(feed=feed).count() == 1
    ProductImage.objects.create(product=v.product, source_url="https://shop.example/x.jpg")

    feeds.feed_build(feed_id=feed.pk)

    feed.refresh_from_db()
    assert FeedExclusion.objects.filter(feed=feed).count() == 0 and feed.items == 1
    assert json.loads(json.dumps(feeds.exclusion_counts(feed.pk))) == {}

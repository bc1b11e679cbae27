"""Catalog quality audit: each rule fires and does not fire at its boundary, settings, scoring, full vs
incremental runs, audit_soon after commit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from stdnum import ean as stdnum_ean

from zaplecze.catalog import audit
from zaplecze.catalog.audit_rules import RULES, eco_claims
from zaplecze.catalog.models import (
    AuditFinding,
    AuditRuleConfig,
    Category,
    Manufacturer,
    PriceChange,
    Product,
    ProductImage,
    Variant,
)
from zaplecze.core.errors import DomainError, NotFound

pytestmark = pytest.mark.django_db

GOOD_DESCRIPTION = "<p>" + "Solidny kubek z kamionki, pojemność 350 ml. " * 6 + "</p>"  # 264 visible chars


def ean(n: int) -> str:
    base = f"590{n:09d}"
    return base + stdnum_ean.calc_check_digit(base)


@pytest.fixture
def category(db):
    return Category.objects.create(name="Kubki", slug="kubki")


@pytest.fixture
def maker(db):
    return Manufacturer.objects.create(
        name="Ceramika Bolesławiec",
        street="ul. Garncarska 1",
        postcode="59-700",
        city="Bolesławiec",
        country="PL",
        email="kontakt@ceramika.example",
    )


@pytest.fixture
def make(category, maker):
    """make(**product fields, variants=[{...}], images=[(w, h, error)], stock=N) -> a product passing every rule."""
    from zaplecze.inventory.services import stock_adjust, warehouse_default

    counter = {"n": 0}

    def _make(variants=None, images=((1000, 1000, ""),), stock=5, **fields):
        counter["n"] += 1
        n = counter["n"]
        data = {
            "name": f"Kubek {n}",
            "category": category,
            "brand": "Bolesławiec",
            "description_html": GOOD_DESCRIPTION,
            "manufacturer": maker,
            "safety_info": "Nie nadaje się do kuchenki mikrofalowej.",
            **fields,
        }
        product = Product.objects.create(**data)
        for i, v in enumerate(variants or [{}]):
            vdata = {
                "sku": f"MUG-{n}-{i}",
                "ean": ean(n * 10 + i),
                "name": data["name"],
                "price": Decimal("49.99"),
                "cost_price": Decimal("20.00"),
                **v,
            }
            variant = Variant.objects.create(product=product, **vdata)
            if stock:
                stock_adjust(
                    variant=variant, warehouse=warehouse_default(), delta=stock, kind="receipt", reason="test"
                )
        for pos, (w, h, err) in enumerate(images):
            ProductImage.objects.create(
                product=product,
                source_url=f"https://img.example/{n}/{pos}.jpg",
                width=w,
                height=h,
                error=err,
                position=pos,
            )
        return product

    return _make


def rules_of(product) -> set[str]:
    return set(AuditFinding.objects.filter(product=product).values_list("rule", flat=True))


def run_one(product) -> set[str]:
    audit.audit_run(product_ids=[product.pk])
    return rules_of(product)


def set_param(code, **params):
    audit.rule_update(code=code, params=params)


# --- the good product, then one problem at a time -----------------------------------------------------


def test_good_product_passes_every_rule_and_scores_100(make):
    p = make()
    audit.audit_run()
    p.refresh_from_db()
    assert rules_of(p) == set()
    assert p.quality_score == 100
    assert p.audited_at is not None
    assert set(AuditRuleConfig.objects.values_list("code", flat=True)) == {r.code for r in RULES}


@pytest.mark.parametrize(
    ("html", "fires"),
    [
        ("", True),
        ("<p>" + "a" * 199 + "</p>", True),
        ("<p>" + "a" * 200 + "</p>", False),
        ("<p>" + "a" * 100 + "</p><script>" + "x" * 500 + "</script>", True),  # scripts are not text
        ("<ul>" + "<li>ab</li>" * 150 + "</ul>", False),  # "ab ab ab ..." = 449 characters
    ],
)
def test_description_short(make, html, fires):
    p = make(description_html=html)
    assert run_one(p) == ({"description_short"} if fires else set())


def test_description_message_says_missing_or_short(make):
    make(description_html="")
    make(description_html="<b>krótki</b>")
    audit.audit_run()
    messages = sorted(audit.finding_message(f.rule, f.details) for f in AuditFinding.objects.all())
    assert messages == ["No description.", "The description has 6 characters; at least 200 are expected."]


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        ((), {"image_missing"}),
        (((None, None, "not an image"),), {"image_missing"}),  # a broken image does not count
        (((499, 800, ""),), {"image_small"}),
        (((500, 500, ""),), set()),
        (((None, None, ""),), set()),  # size not read yet: unknown, not failing
        (((1000, 1000, ""), (120, 90, "")), {"image_small"}),
    ],
)
def test_images(make, images, expected):
    assert run_one(make(images=images)) == expected


def test_small_image_details(make):
    p = make(images=((1000, 1000, ""), (300, 200, ""), (400, 450, "")))
    assert run_one(p) == {"image_small"}
    assert AuditFinding.objects.get(product=p).details == {"count": 2, "smallest": "300×200", "min": 500}


def test_ean_missing_and_invalid_per_active_variant(make):
    p = make(variants=[{"ean": ""}, {"ean": "5901234123450"}, {"ean": "", "active": False}])
    assert run_one(p) == {"ean_missing", "ean_invalid"}
    missing = AuditFinding.objects.get(product=p, rule="ean_missing")
    assert missing.variant.sku.endswith("-0")
    invalid = AuditFinding.objects.get(product=p, rule="ean_invalid")
    assert invalid.details["ean"] == "5901234123450"


def test_valid_ean8_and_gtin14_pass(make):
    p = make(variants=[{"ean": "96385074"}, {"ean": "0" + ean(77)}])
    assert run_one(p) == set()


def test_duplicate_ean_across_products_and_within_one(make):
    a = make(variants=[{"ean": ean(5000)}])
    b = make(variants=[{"ean": ean(5000)}, {"ean": ean(5001)}, {"ean": ean(5001)}])
    audit.audit_run()
    assert rules_of(a) == {"ean_duplicate"}
    assert AuditFinding.objects.filter(product=b, rule="ean_duplicate").count() == 3
    fa = AuditFinding.objects.get(product=a)
    assert fa.details["others"] == [b.variants.get(ean=ean(5000)).sku]


def test_duplicate_sku_ignores_case_and_spaces(make):
    a = make(variants=[{"sku": "KUB-100"}])
    b = make(variants=[{"sku": "kub-100 "}])
    c = make(variants=[{"sku": "KUB-1000"}])
    audit.audit_run()
    assert rules_of(a) == rules_of(b) == {"sku_duplicate"}
    assert rules_of(c) == set()


def test_brand_manufacturer_category_safety(make):
    assert run_one(make(brand="  ")) == {"brand_missing"}
    assert run_one(make(manufacturer=None)) == {"manufacturer_missing"}  # and no GPSR finding on top
    assert run_one(make(category=None)) == {"category_missing"}
    p = make(safety_info="")
    assert run_one(p) == {"safety_info_missing"}
    p.refresh_from_db()
    assert p.quality_score == 98
    assert AuditFinding.objects.get(product=p).severity == "info"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"email": ""}, ["email"]),
        ({"street": "", "city": ""}, ["street", "city"]),
        ({"country": "CN"}, ["eu_rp_name", "eu_rp_address", "eu_rp_email"]),
        ({"country": "CN", "eu_rp_name": "Rep Sp. z o.o.", "eu_rp_address": "Warszawa"}, ["eu_rp_email"]),
        (
            {
                "country": "CN",
                "eu_rp_name": "Rep",
                "eu_rp_address": "ul. 1, Warszawa",
                "eu_rp_email": "r@rep.example",
            },
            None,
        ),
        ({"country": "NO"}, None),  # EEA: no EU responsible person needed
        ({"country": "de"}, None),
    ],
)
def test_manufacturer_gpsr(make, fields, missing):
    data = {
        "street": "Hauptstr. 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "email": "i@m.example",
    }
    m = Manufacturer.objects.create(name=f"M {fields}", **{**data, **fields})
    p = make(manufacturer=m)
    if missing is None:
        assert run_one(p) == set()
    else:
        assert run_one(p) == {"manufacturer_gpsr"}
        assert AuditFinding.objects.get(product=p).details["missing"] == missing


def test_price_zero(make):
    p = make(
        variants=[{"price": Decimal("0.00"), "cost_price": None}, {"price": Decimal("0"), "active": False}]
    )
    assert run_one(p) == {"price_zero"}
    assert AuditFinding.objects.filter(product=p).count() == 1


@pytest.mark.parametrize(
    ("price", "vat", "cost", "margin", "fires"),
    [
        ("123.00", "23", "100.00", None, False),  # net 100.00 = cost
        ("123.00", "23", "100.01", None, True),
        ("100.00", "zw", "100.00", None, False),  # exempt: net = gross
        ("108.00", "8", "100.01", None, True),
        ("123.00", "23", "90.91", "10", False),  # floor 100.00
        ("123.00", "23", "90.92", "10", True),  # floor 100.01
    ],
)
def test_price_below_cost(make, price, vat, cost, margin, fires):
    if margin:
        set_param("price_below_cost", min_margin_percent=margin)
    p = make(variants=[{"price": Decimal(price), "vat_rate": vat, "cost_price": Decimal(cost)}])
    assert run_one(p) == ({"price_below_cost"} if fires else set())


def _history(variant, prices, *, days_ago=1, channel=""):
    now = timezone.now()
    for i, price in enumerate(prices):
        PriceChange.objects.create(
            variant=variant,
            channel=channel,
            price=Decimal(price),
            effective_from=now - dt.timedelta(days=days_ago + len(prices) - i - 1),
        )


@pytest.mark.parametrize(
    ("prices", "fires"),
    [
        (["100.00", "150.00"], False),  # exactly 50 %
        (["100.00", "150.01"], True),
        (["100.00", "49.99"], True),  # -50.01 %
        (["100.00", "50.00"], False),
        (["10.00", "100.00", "105.00"], False),  # only the latest change counts
        (["100.00"], False),
    ],
)
def test_price_jump(make, prices, fires):
    p = make()
    _history(p.variants.get(), prices)
    assert run_one(p) == ({"price_jump"} if fires else set())


def test_price_jump_window_channel_and_future(make):
    p = make()
    v = p.variants.get()
    _history(v, ["100.00", "300.00"], days_ago=40)
    assert run_one(p) == set()  # older than 30 days
    set_param("price_jump", days=0)
    assert run_one(p) == {"price_jump"}
    set_param("price_jump", days=30)
    _history(v, ["200.00", "20.00"], channel="allegro")
    assert run_one(p) == {"price_jump"}
    f = AuditFinding.objects.get(product=p)
    assert (f.details["channel"], f.details["percent"]) == ("allegro", "-90.0")
    # a scheduled change (not in effect yet) is not "the latest change"
    PriceChange.objects.filter(channel="allegro").delete()
    PriceChange.objects.create(
        variant=v, price=Decimal("999"), effective_from=timezone.now() + dt.timedelta(days=3)
    )
    assert run_one(p) == set()


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (75, set()),
        (76, {"title_allegro"}),
        (150, {"title_allegro"}),
        (151, {"title_allegro", "title_google"}),
    ],
)
def test_title_length(make, length, expected):
    name = ("Kubek ceramiczny " * 20)[:length]
    assert run_one(make(name=name, variants=[{"name": name}])) == expected


def test_long_variant_name_is_a_variant_finding(make):
    p = make(variants=[{"name": "K" * 80}])
    assert run_one(p) == {"title_allegro"}
    assert AuditFinding.objects.get(product=p).variant_id == p.variants.get().pk


def test_out_of_stock(make, monkeypatch):
    p = make(stock=0)
    assert run_one(p) == {"out_of_stock"}
    draft = make(stock=0, status=Product.Status.DRAFT)
    assert run_one(draft) == set()
    # stock unknown (no inventory registered): skipped
    from zaplecze.core import extensions

    monkeypatch.setattr(
        extensions, "_points", {k: v for k, v in extensions._points.items() if k != "catalog.stock"}
    )
    assert run_one(p) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Produkt ekologiczny",
        "z ekologicznego bawełnianego materiału",
        "Torba przyjazna dla środowiska",
        "opakowanie przyjazne środowisku",
        "Eco-friendly mug",
        "environmentally friendly",
        "Kubek EKO",
        "eko-torba na zakupy",
        "produkcja neutralna klimatycznie",
        "biodegradowalne opakowanie",
        "biodegradable packaging",
        "to zielony wybór dla domu",
        "Climate neutral shipping",
        "carbon-neutral",
        "greener than ever",
    ],
)
def test_eco_claims_found(text):
    assert eco_claims(text)


@pytest.mark.parametrize(
    "text",
    [
        "Zielona koszulka z bawełny",
        "green T-shirt",
        "Ekonomiczny zestaw",
        "ekran 15 cali",
        "Economy pack",
        "Ecolab cleaner",
        "greenhouse",
        "",
    ],
)
def test_eco_claims_not_found(text):
    assert eco_claims(text) == []


def test_eco_claim_rule_with_params(make):
    p = make(description_html=GOOD_DESCRIPTION + "<p>Ekologiczna i przyjazna dla środowiska. Vegan.</p>")
    assert run_one(p) == {"eco_claim"}
    assert AuditFinding.objects.get(product=p).details["phrases"] == [
        "ekologiczna",
        "przyjazna dla środowiska",
    ]
    set_param("eco_claim", allowed_phrases="Ekologiczna, przyjazna dla środowiska", extra_phrases=["vegan"])
    assert run_one(p) == {"eco_claim"}
    assert AuditFinding.objects.get(product=p).details["phrases"] == ["vegan"]
    set_param("eco_claim", extra_phrases=[])
    assert run_one(p) == set()


# --- settings and scoring --------------------------------------------------------------------------------


def test_disabled_rule_does_not_fire_and_severity_changes_score(make):
    p = make(brand="", category=None)
    assert run_one(p) == {"brand_missing", "category_missing"}
    p.refresh_from_db()
    assert p.quality_score == 80  # two warnings
    audit.rule_update(code="brand_missing", enabled=False)
    audit.rule_update(code="category_missing", severity="error")
    assert run_one(p) == {"category_missing"}
    p.refresh_from_db()
    assert p.quality_score == 75
    assert AuditFinding.objects.get(product=p).severity == "error"


def test_score_counts_a_rule_once_and_never_below_zero(make):
    p = make(variants=[{"ean": ""}, {"ean": ""}, {"ean": ""}])
    run_one(p)
    p.refresh_from_db()
    assert (AuditFinding.objects.filter(product=p).count(), p.quality_score) == (3, 90)
    worst = make(
        name="x" * 160,
        description_html="",
        images=(),
        brand="",
        manufacturer=None,
        category=None,
        safety_info="",
        variants=[{"ean": "123", "price": Decimal("0"), "cost_price": None}],
        stock=0,
    )
    run_one(worst)
    worst.refresh_from_db()
    assert worst.quality_score == 0


def test_catalog_score_is_the_mean_of_audited_not_archived_products(make):
    make()  # 100
    make(brand="")  # 90
    make(safety_info="")  # 98
    archived = make(brand="", status=Product.Status.ARCHIVED)
    audit.audit_run()
    summary = audit.catalog_summary()
    assert summary["score"] == 96.0
    assert summary["products"] == 3
    assert summary["by_severity"] == {"error": 0, "warning": 1, "info": 1}
    assert {r["code"]: r["products"] for r in summary["rules"]}["brand_missing"] == 1
    archived.refresh_from_db()
    assert archived.quality_score is None and rules_of(archived) == set()


def test_rule_update_validates_params():
    with pytest.raises(DomainError) as exc:
        audit.rule_update(code="description_short", params={"min_length": "abc"})
    assert exc.value.field == "params.min_length"
    with pytest.raises(DomainError) as exc:
        audit.rule_update(code="description_short", params={"min_length": 0})
    assert exc.value.field == "params.min_length"
    with pytest.raises(DomainError) as exc:
        audit.rule_update(code="description_short", params={"max": 3})
    assert exc.value.field == "params.max"
    with pytest.raises(DomainError):
        audit.rule_update(code="description_short", severity="fatal")
    with pytest.raises(NotFound):
        audit.rule_update(code="nope")
    s = audit.rule_update(code="description_short", params={"min_length": "300"})
    assert s.params == {"min_length": 300}
    assert AuditRuleConfig.objects.get(code="description_short").params == {"min_length": 300}


def test_rule_choices_for_the_product_list():
    choices = audit.audit_rule_choices()
    assert ("image_missing", "No image") in choices
    assert len(choices) == len(RULES) == 19


# --- engine --------------------------------------------------------------------------------------------


def test_queries_do_not_grow_with_products(make):
    for _ in range(3):
        make(variants=[{}, {}])
    audit.rule_settings()
    with CaptureQueriesContext(connection) as small:
        audit.audit_run()
    for _ in range(12):
        make(variants=[{}, {"ean": ""}], images=((100, 100, ""), (900, 900, "")))
    with CaptureQueriesContext(connection) as big:
        audit.audit_run()
    assert len(big.captured_queries) <= len(small.captured_queries) + 3  # a few more score groups


def _snapshot():
    findings = sorted(
        (
            f.product_id,
            f.variant_id,
            f.rule,
            f.severity,
            tuple(sorted((k, str(v)) for k, v in f.details.items())),
        )
        for f in AuditFinding.objects.all()
    )
    scores = dict(Product.objects.values_list("pk", "quality_score"))
    return findings, scores


def test_incremental_equals_full(make):
    a = make(variants=[{"ean": ean(9000), "sku": "DUP-1"}])
    b = make(variants=[{"ean": ean(9000)}])
    c = make(variants=[{"sku": "dup-1"}], brand="")
    make()
    audit.audit_run(batch_size=2)
    assert rules_of(b) == {"ean_duplicate"} and rules_of(c) == {"sku_duplicate", "brand_missing"}
    # A stops sharing its EAN and SKU: auditing only A must also clear B's and C's duplicate findings.
    Variant.objects.filter(product=a).update(ean=ean(9001), sku="UNIQUE-1")
    Product.objects.filter(pk=c.pk).update(brand="Nowa")
    audit.audit_run(product_ids=[a.pk, c.pk])
    incremental = _snapshot()
    AuditFinding.objects.all().delete()
    Product.objects.update(quality_score=None)
    audit.audit_run(batch_size=3)
    assert _snapshot() == incremental
    assert rules_of(b) == set() and rules_of(c) == set()


def test_audit_soon_queues_one_job_after_commit(make, monkeypatch, django_capture_on_commit_callbacks):
    from zaplecze.catalog import tasks_audit

    p1, p2 = make(brand=""), make(category=None)
    calls = []
    real = tasks_audit.audit_products_task
    monkeypatch.setattr(tasks_audit, "audit_products_task", lambda ids: (calls.append(ids), real(ids)))
    # Creating products queues them too (product_create calls audit_soon); that test transaction never
    # commits, so start from an empty queue to see exactly what these two calls queue.
    audit._pending.ids = set()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            audit.audit_soon([p1.pk])
            audit.audit_soon([p2.pk, p1.pk])
            assert calls == []
    assert calls == [sorted([p1.pk, p2.pk])]
    assert rules_of(p1) == {"brand_missing"} and rules_of(p2) == {"category_missing"}
    p1.refresh_from_db()
    assert p1.quality_score == 90


def test_audit_soon_nothing_on_rollback(make, monkeypatch, django_capture_on_commit_callbacks):
    from zaplecze.catalog import tasks_audit

    p = make()
    calls = []
    monkeypatch.setattr(tasks_audit, "audit_products_task", lambda ids: calls.append(ids))
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                audit.audit_soon([p.pk])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert calls == []
    with django_capture_on_commit_callbacks(execute=True):
        audit.audit_soon([])
    assert calls == []


def test_nightly_task_runs_only_at_half_past_two_in_warsaw(make, monkeypatch):
    from zaplecze.catalog import tasks_audit

    p = make(brand="")
    winter_0030 = dt.datetime(2026, 1, 15, 0, 30, tzinfo=dt.UTC)  # 01:30 in Warsaw
    monkeypatch.setattr(timezone, "now", lambda: winter_0030)
    tasks_audit.audit_nightly.call_local()
    assert rules_of(p) == set()
    monkeypatch.setattr(timezone, "now", lambda: winter_0030 + dt.timedelta(hours=1))  # 02:30 in Warsaw
    tasks_audit.audit_nightly.call_local()
    assert rules_of(p) == {"brand_missing"}

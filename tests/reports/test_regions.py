"""Sales by region: the voivodeship of the shipping postcode (reports.regions), in the sales report and its
files, and the report's currency (page, API, CLI) for shops with history in another currency."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal as D

import pytest
from click.testing import CliRunner

from zaplecze.reports import render
from zaplecze.reports.regions import ABROAD, APPROXIMATE, PREFIX, UNKNOWN, region_name, region_of
from zaplecze.reports.sales import Period, by_region, channel_currency, sales_report

WAW = dt.timezone(dt.timedelta(hours=1))

KNOWN = [
    ("00-950", "Warszawa", "mazowieckie"),
    ("30-001", "Kraków", "małopolskie"),
    ("80-001", "Gdańsk", "pomorskie"),
    ("50-001", "Wrocław", "dolnośląskie"),
    ("60-001", "Poznań", "wielkopolskie"),
    ("90-001", "Łódź", "łódzkie"),
    ("20-001", "Lublin", "lubelskie"),
    ("15-001", "Białystok", "podlaskie"),
    ("35-001", "Rzeszów", "podkarpackie"),
    ("25-001", "Kielce", "świętokrzyskie"),
    ("10-001", "Olsztyn", "warmińsko-mazurskie"),
    ("70-001", "Szczecin", "zachodniopomorskie"),
    ("45-001", "Opole", "opolskie"),
    ("40-001", "Katowice", "śląskie"),
    ("85-001", "Bydgoszcz", "kujawsko-pomorskie"),
    ("65-001", "Zielona Góra", "lubuskie"),
]


@pytest.mark.parametrize(("postcode", "city", "voivodeship"), KNOWN)
def test_known_postcodes_give_their_voivodeship(postcode, city, voivodeship):
    assert region_name(region_of("PL", postcode)) == voivodeship, city
    assert region_name(region_of("", postcode.replace("-", ""))) == voivodeship  # no country: Poland


def test_every_voivodeship_is_reached_and_every_used_prefix_is_mapped():
    assert {region_name(region_of("PL", p)) for p, _c, _v in KNOWN} == {v for _p, _c, v in KNOWN}
    assert len({v for _p, _c, v in KNOWN}) == 16
    assert set(PREFIX) == {f"{i:02d}" for i in range(100)} - {"79"}
    assert APPROXIMATE <= set(PREFIX)


@pytest.mark.parametrize(
    ("country", "postcode", "expected"),
    [
        ("DE", "10115", ABROAD),
        ("gb", "SW1A 1AA", ABROAD),
        ("PL", "", UNKNOWN),
        ("PL", "123-45", UNKNOWN),
        ("PL", "00-95", UNKNOWN),
        ("PL", "ab-cde", UNKNOWN),
        ("PL", "79-100", UNKNOWN),
        ("", "", UNKNOWN),
    ],
)
def test_abroad_and_unknown(country, postcode, expected):
    assert region_of(country, postcode) == expected


def _order(ingest, n, postcode, country="PL", price="100.00", currency="PLN", channel="shop"):
    return ingest(
        external_id=str(n),
        number=f"#{n}",
        channel=channel,
        currency=currency,
        placed_at=dt.datetime(2026, 11, 3, 10, tzinfo=WAW).isoformat(),
        shipping_cost="0",
        shipping_address={
            "name": "X",
            "street": "Y 1",
            "postcode": postcode,
            "city": "Z",
            "country": country,
        },
        lines=[
            {"sku": "SKU-0001", "name": "Kubek", "quantity": 1, "unit_price_gross": price, "vat_rate": "23"}
        ],
    ).order


@pytest.fixture
def regional(db, ingest, product_factory):
    product_factory(sku="SKU-0001", price="100.00", stock=500)
    _order(ingest, 1, "00-950", price="300.00")
    _order(ingest, 2, "02-495", price="100.00")
    _order(ingest, 3, "30-001", price="200.00")
    _order(ingest, 4, "10115", country="DE", price="50.00")
    _order(ingest, 5, "xx", price="10.00")
    _order(ingest, 6, "80-001", price="99.00", currency="EUR")  # another currency: not in the PLN report
    return Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def test_sales_by_region_groups_the_counted_orders(regional):
    rows = by_region(regional)
    assert [(r["key"], r["name"], r["orders"], r["revenue_gross"]) for r in rows] == [
        ("mazowieckie", "mazowieckie", 2, D("400.00")),
        ("malopolskie", "małopolskie", 1, D("200.00")),
        ("abroad", "abroad", 1, D("50.00")),
        ("unknown", "unknown", 1, D("10.00")),
    ]
    assert rows[0]["share"] == round(400 / 660, 4)
    assert [r["key"] for r in by_region(regional, currency="EUR")] == ["pomorskie"]


def test_region_table_is_in_every_report_format(regional):
    import openpyxl

    data = sales_report(regional)
    assert data["by_region"][0]["key"] == "mazowieckie"
    html = render.render("sales", data, "html").decode()
    assert "By region" in html and "małopolskie" in html
    book = openpyxl.load_workbook(io.BytesIO(render.render("sales", data, "xlsx")))
    sheet = book["By region"]
    assert [c.value for c in sheet[2]][:3] == ["mazowieckie", 2, 400.0]
    assert json.loads(render.render("sales", data, "json"))["by_region"][1]["name"] == "małopolskie"


def test_the_report_currency_is_chosen_or_taken_from_the_channel(regional, admin_client, make_user):
    from zaplecze.orders.models import Channel

    Channel.objects.create(code="uk", name="UK shop", kind=Channel.Kind.OTHER)
    assert channel_currency("uk") == "PLN"  # no orders yet
    page = admin_client.get(
        "/reports/", {"date_from": "2026-11-01", "date_to": "2026-11-30", "currency": "EUR"}
    )
    assert page.status_code == 200
    assert page.context["data"]["currency"] == "EUR" and page.context["data"]["orders"] == 1
    assert '<option value="EUR"' in page.content.decode()
    people = admin_client.get(
        "/reports/customers/", {"date_from": "2026-11-01", "date_to": "2026-11-30", "currency": "EUR"}
    )
    assert (
        people.context["data"]["currency"] == "EUR"
        and people.context["data"]["lifetime_value"]["customers"] == 1
    )
    csv_file = admin_client.get(
        "/reports/download/",
        {"date_from": "2026-11-03", "date_to": "2026-11-03", "currency": "EUR", "format": "csv"},
    )
    assert csv_file.status_code == 200 and ";1;99.00;" in csv_file.content.decode()

    from django.test import Client

    from zaplecze.core.services import token_create

    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=make_user('organiser'))}")
    response = api.get("/api/v1/reports/sales", {"from": "2026-11-01", "to": "2026-11-30", "currency": "eur"})
    assert response.status_code == 200, response.content
    assert response.json()["currency"] == "EUR" and response.json()["revenue_gross"] == 99.0

    from zaplecze.cli import main

    result = CliRunner().invoke(
        main, ["report", "sales", "--from", "2026-11-01", "--to", "2026-11-30", "--currency", "EUR"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["orders"] == 1
    bad = CliRunner().invoke(main, ["report", "sales", "--currency", "euro"])
    assert bad.exit_code == 2 and "ISO currency" in bad.output

"""The carriers a Polish shop starts with: InPost through ShipX, the others with typed-in tracking numbers."""

from django.db import migrations

CARRIERS = [
    # code, name, connector, delivery methods, tracking page, transit days, position
    (
        "inpost",
        "InPost",
        "inpost",
        ["inpost_locker", "inpost_courier"],
        "https://inpost.pl/sledzenie-przesylek?number={number}",
        1,
        10,
    ),
    ("dpd", "DPD", "manual", ["dpd"], "https://tracktrace.dpd.com.pl/parcelDetails?typ=1&p1={number}", 1, 20),
    (
        "dhl",
        "DHL",
        "manual",
        ["dhl"],
        "https://www.dhl.com/pl-pl/home/sledzenie.html?tracking-id={number}",
        1,
        30,
    ),
    (
        "poczta",
        "Poczta Polska",
        "manual",
        ["poczta"],
        "https://emonitoring.poczta-polska.pl/?numer={number}",
        2,
        40,
    ),
    (
        "orlen",
        "ORLEN Paczka",
        "manual",
        ["orlen"],
        "https://www.orlenpaczka.pl/sledz-paczke/?numer={number}",
        2,
        50,
    ),
    ("gls", "GLS", "manual", ["gls"], "https://gls-group.com/PL/pl/sledzenie-paczek?match={number}", 1, 60),
]


def seed(apps, schema_editor):
    Carrier = apps.get_model("shipping", "Carrier")
    for code, name, connector, methods, url, days, position in CARRIERS:
        Carrier.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "connector": connector,
                "delivery_methods": methods,
                "tracking_url": url,
                "transit_days": days,
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("shipping", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

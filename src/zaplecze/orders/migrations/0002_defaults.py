"""Default lifecycle statuses and sales channels (users can rename, recolour and add their own)."""

from django.db import migrations

STATUSES = [
    # code, Polish, English, colour, position, stage
    ("new", "Nowe", "New", "#3b82f6", 10, "new"),
    ("awaiting_payment", "Oczekuje na płatność", "Awaiting payment", "#f59e0b", 20, "awaiting_payment"),
    ("ready", "Do realizacji", "Ready to fulfil", "#10b981", 30, "ready"),
    ("picking", "W kompletacji", "Picking", "#8b5cf6", 40, "in_fulfilment"),
    ("packed", "Spakowane", "Packed", "#a855f7", 45, "in_fulfilment"),
    ("shipped", "Wysłane", "Shipped", "#0ea5e9", 50, "shipped"),
    ("delivered", "Doręczone", "Delivered", "#14b8a6", 60, "delivered"),
    ("completed", "Zakończone", "Completed", "#22c55e", 70, "completed"),
    ("cancelled", "Anulowane", "Cancelled", "#ef4444", 80, "cancelled"),
    ("returned", "Zwrócone", "Returned", "#f97316", 90, "returned"),
]
CHANNELS = [
    ("shop", "Sklep internetowy", "shop", 24),
    ("allegro", "Allegro", "allegro", 24),
    ("amazon", "Amazon", "amazon", 24),
    ("ebay", "eBay", "ebay", 48),
    ("erli", "Erli", "erli", 24),
    ("manual", "Telefon / ręczne", "manual", 24),
    ("other", "Inne", "other", 48),
]


def forwards(apps, schema_editor):
    OrderStatus = apps.get_model("orders", "OrderStatus")
    Channel = apps.get_model("orders", "Channel")
    seen = set()
    for code, pl, en, colour, pos, stage in STATUSES:
        OrderStatus.objects.get_or_create(
            code=code,
            defaults={
                "name_pl": pl,
                "name_en": en,
                "colour": colour,
                "position": pos,
                "stage": stage,
                "is_default_for_stage": stage not in seen,
            },
        )
        seen.add(stage)
    for code, name, kind, hours in CHANNELS:
        Channel.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "ship_within_hours": hours}
        )


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

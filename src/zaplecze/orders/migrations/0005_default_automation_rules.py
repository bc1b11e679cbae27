"""A few useful automation rules, switched off: the organiser reviews them (dry run) and switches them on."""

from django.db import migrations

RULES = [
    {
        "name": "Opłacone i wszystko na stanie → Do realizacji",
        "trigger": "order_paid",
        "trigger_params": {},
        "conditions": [
            {"type": "all_in_stock"},
            {"type": "status_is", "statuses": ["new", "awaiting_payment"]},
        ],
        "actions": [{"type": "set_status", "status": "ready"}],
    },
    {
        "name": "Za pobraniem → Do realizacji",
        "trigger": "order_created",
        "trigger_params": {},
        "conditions": [
            {"type": "payment_method", "methods": ["cod"]},
            {"type": "status_is", "statuses": ["new"]},
        ],
        "actions": [{"type": "set_status", "status": "ready"}],
    },
    {
        "name": "Zamówienie powyżej 1000 zł → tag VIP-check",
        "trigger": "order_created",
        "trigger_params": {},
        "conditions": [{"type": "total_at_least", "amount": "1000.00"}],
        "actions": [{"type": "add_tag", "tag": "VIP-check"}],
    },
    {
        "name": "Oczekuje na płatność 72 h → przypomnienie e-mail",
        "trigger": "in_status_for",
        "trigger_params": {"status": "awaiting_payment", "hours": 72},
        "conditions": [{"type": "payment_status", "statuses": ["unpaid"]}],
        "actions": [{"type": "send_email", "template": "payment_reminder"}],
    },
]


def forwards(apps, schema_editor):
    AutomationRule = apps.get_model("orders", "AutomationRule")
    for position, rule in enumerate(RULES, start=1):
        if not AutomationRule.objects.filter(name=rule["name"]).exists():
            AutomationRule.objects.create(position=position * 10, enabled=False, **rule)


def backwards(apps, schema_editor):
    AutomationRule = apps.get_model("orders", "AutomationRule")
    AutomationRule.objects.filter(name__in=[r["name"] for r in RULES], enabled=False).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_automation")]
    operations = [migrations.RunPython(forwards, backwards)]

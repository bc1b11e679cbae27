from django.db import migrations


def forwards(apps, schema_editor):
    Warehouse = apps.get_model("inventory", "Warehouse")
    if not Warehouse.objects.exists():
        Warehouse.objects.create(code="MAIN", name="Magazyn główny", is_default=True, priority=0)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

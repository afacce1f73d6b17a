"""Client 0 (System) and org 0 (``*``): every tenant row defaults to org 0, so they always exist."""

from django.db import migrations


def create_system_rows(apps, schema_editor):
    Client = apps.get_model("accounts", "Client")
    Organization = apps.get_model("accounts", "Organization")
    Client.objects.get_or_create(id=0, defaults={"value": "SYSTEM", "name": "System"})
    Organization.objects.get_or_create(id=0, defaults={"client_id": 0, "value": "0", "name": "*"})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_system_rows, migrations.RunPython.noop)]

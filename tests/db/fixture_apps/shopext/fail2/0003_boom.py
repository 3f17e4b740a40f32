from django.db import migrations


def boom(apps, schema_editor):
    raise RuntimeError("data migration failed on purpose")


class Migration(migrations.Migration):
    dependencies = [("shopext", "0002_add_colour")]
    operations = [migrations.RunPython(boom, migrations.RunPython.noop)]

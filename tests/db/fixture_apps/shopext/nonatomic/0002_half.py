from django.db import migrations, models


def boom(apps, schema_editor):
    raise RuntimeError("failed half way through a non-atomic migration")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("shopext", "0001_initial")]
    operations = [
        migrations.AddField("widget", "colour", models.CharField(max_length=20, default="")),
        migrations.RunPython(boom, migrations.RunPython.noop),
    ]

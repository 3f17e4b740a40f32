from django.db import migrations

from . import _helpers

SKIP = ("", None)


def fill(apps, schema_editor):
    Widget = apps.get_model("shopext", "Widget")
    for widget in Widget.objects.all():
        if widget.name in SKIP or widget.name[:2] in {"W-", "X-", "Y-", "Z-"}:
            continue
        widget.name = _helpers.normalize(widget.name)
        widget.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [("shopext", "0001_initial")]
    operations = [migrations.RunPython(fill, reverse_code=migrations.RunPython.noop)]

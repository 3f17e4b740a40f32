from django.db import migrations


def mark_warnings(apps, schema_editor):
    apps.get_model("benchext", "Note").objects.filter(id__lte=100).update(kind="warn")


class Migration(migrations.Migration):
    dependencies = [("benchext", "0010_note_unique_text")]
    operations = [migrations.RunPython(mark_warnings, migrations.RunPython.noop)]

import functools

from django.db import migrations


def mark(apps, schema_editor, suffix, kinds=frozenset()):
    Widget = apps.get_model("shopext", "Widget")
    Widget.objects.filter(name__in=sorted(kinds)).update(name=suffix)


class Migration(migrations.Migration):
    dependencies = [("shopext", "0003_lambda")]
    operations = [
        migrations.RunPython(functools.partial(mark, suffix="!", kinds={"nothing", "at", "all"}), migrations.RunPython.noop),
    ]

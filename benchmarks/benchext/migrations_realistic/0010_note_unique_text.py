from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0009_shiftreport_closed")]
    operations = [
        migrations.AddConstraint(
            "note", models.CheckConstraint(condition=models.Q(kind__in=["info", "warn"]), name="benchext_note_kind_ok")
        )
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0004_shiftreport")]
    operations = [migrations.AddIndex("note", models.Index(fields=["kind"], name="benchext_note_kind_idx"))]

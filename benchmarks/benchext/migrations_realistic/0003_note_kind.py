from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0002_note_created")]
    operations = [migrations.AddField("note", "kind", models.CharField(max_length=10, default="info"))]

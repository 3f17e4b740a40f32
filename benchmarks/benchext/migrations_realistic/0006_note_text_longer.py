from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0005_note_kind_index")]
    operations = [migrations.AlterField("note", "text", models.CharField(max_length=200))]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0001_initial")]
    operations = [migrations.AddField("note", "field_2", models.CharField(max_length=20, default=""))]

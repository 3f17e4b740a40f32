from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0002_field_2")]
    operations = [migrations.AddField("note", "field_3", models.CharField(max_length=20, default=""))]

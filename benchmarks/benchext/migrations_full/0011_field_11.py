from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0010_field_10")]
    operations = [migrations.AddField("note", "field_11", models.CharField(max_length=20, default=""))]

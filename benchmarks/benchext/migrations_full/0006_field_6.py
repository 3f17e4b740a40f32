from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0005_field_5")]
    operations = [migrations.AddField("note", "field_6", models.CharField(max_length=20, default=""))]

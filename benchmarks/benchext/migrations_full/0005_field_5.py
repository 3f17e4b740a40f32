from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0004_field_4")]
    operations = [migrations.AddField("note", "field_5", models.CharField(max_length=20, default=""))]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0009_field_9")]
    operations = [migrations.AddField("note", "field_10", models.CharField(max_length=20, default=""))]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0003_field_3")]
    operations = [migrations.AddField("note", "field_4", models.CharField(max_length=20, default=""))]

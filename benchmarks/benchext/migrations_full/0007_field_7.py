from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0006_field_6")]
    operations = [migrations.AddField("note", "field_7", models.CharField(max_length=20, default=""))]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0007_field_7")]
    operations = [migrations.AddField("note", "field_8", models.CharField(max_length=20, default=""))]

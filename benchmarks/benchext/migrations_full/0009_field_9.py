from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0008_field_8")]
    operations = [migrations.AddField("note", "field_9", models.CharField(max_length=20, default=""))]

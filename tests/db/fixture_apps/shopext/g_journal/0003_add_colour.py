from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shopext", "0002_rollback_journal")]
    operations = [migrations.AddField("widget", "colour", models.CharField(max_length=20, default=""))]

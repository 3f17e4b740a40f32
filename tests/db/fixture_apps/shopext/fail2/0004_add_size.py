from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shopext", "0003_boom")]
    operations = [migrations.AddField("widget", "size", models.CharField(max_length=20, default=""))]

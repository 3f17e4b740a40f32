from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shopext", "0002_add_colour")]
    operations = [migrations.AddField("widget", "size", models.CharField(max_length=20, default=""))]

from django.db import migrations, models


class Migration(migrations.Migration):
    # Still names the last replaced migration, as squashmigrations leaves it.
    dependencies = [("shopext", "0003_add_size")]
    operations = [migrations.AddField("widget", "note", models.CharField(max_length=40, default=""))]

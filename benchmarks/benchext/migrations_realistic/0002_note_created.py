from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0001_initial")]
    operations = [migrations.AddField("note", "created_at", models.DateTimeField(null=True))]

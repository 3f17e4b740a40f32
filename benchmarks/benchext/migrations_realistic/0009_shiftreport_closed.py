from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0008_rename_created")]
    operations = [migrations.AddField("shiftreport", "closed_at", models.DateTimeField(null=True))]

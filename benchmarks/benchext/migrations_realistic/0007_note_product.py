import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0006_note_text_longer"), ("pos", "0001_initial")]
    operations = [
        migrations.AddField(
            "note",
            "product",
            models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, to="pos.product"),
        )
    ]

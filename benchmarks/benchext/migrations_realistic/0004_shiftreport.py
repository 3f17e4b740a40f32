import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchext", "0003_note_kind"), ("pos", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="ShiftReport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("opened_at", models.DateTimeField()),
                ("total_minor", models.BigIntegerField(default=0)),
                (
                    "last_order",
                    models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, to="pos.order"),
                ),
            ],
        )
    ]

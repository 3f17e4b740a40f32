# The same operations as v1/0001_initial, written differently: not a mismatch.
from django.db import migrations
from django.db import models


class Migration(migrations.Migration):
    """Create widgets."""

    initial = True
    dependencies = [
        ("pos", "0001_initial"),
    ]
    operations = [
        migrations.CreateModel(
            name="Widget",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=50)),  # the widget's name
                (
                    "category",
                    models.ForeignKey(null=True, on_delete=models.deletion.CASCADE, to="pos.category"),
                ),
            ],
        ),
    ]

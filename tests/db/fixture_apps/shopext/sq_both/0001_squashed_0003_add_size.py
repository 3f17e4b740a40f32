from django.db import migrations, models


class Migration(migrations.Migration):
    replaces = [("shopext", "0001_initial"), ("shopext", "0002_add_colour"), ("shopext", "0003_add_size")]
    initial = True
    dependencies = [("pos", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="Widget",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
                ("category", models.ForeignKey(null=True, on_delete=models.deletion.CASCADE, to="pos.category")),
                ("colour", models.CharField(max_length=20, default="")),
                ("size", models.CharField(max_length=20, default="")),
            ],
        ),
    ]

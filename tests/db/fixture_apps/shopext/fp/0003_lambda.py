from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shopext", "0002_data")]
    operations = [
        migrations.RunPython(lambda apps, se: apps.get_model("shopext", "Widget").objects.filter(name="").delete(), lambda apps, se: None),
    ]

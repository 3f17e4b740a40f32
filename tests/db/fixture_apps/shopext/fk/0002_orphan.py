from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shopext", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "INSERT INTO shopext_widget (name, category_id) VALUES ('orphan', 999999)", migrations.RunSQL.noop
        )
    ]

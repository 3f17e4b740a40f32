from django.db import migrations


class Migration(migrations.Migration):
    """A third-party migration that takes the database out of WAL mode: it needs the database to itself."""

    atomic = False
    dependencies = [("shopext", "0001_initial")]
    operations = [migrations.RunSQL("PRAGMA journal_mode=DELETE", migrations.RunSQL.noop)]

from django.db import migrations


def fill(apps, schema_editor):
    """Grow the database until the disk is full (the test's small filesystem)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE TABLE shopext_ballast (id INTEGER PRIMARY KEY, blob BLOB)")
        for _ in range(100_000):
            cursor.execute("INSERT INTO shopext_ballast (blob) SELECT randomblob(60000)")


class Migration(migrations.Migration):
    atomic = False  # each insert commits, so the write-ahead log grows until the disk is full
    dependencies = [("shopext", "0001_initial")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]

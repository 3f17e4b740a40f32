from django.db import migrations

from maintenance.db import testhooks


def backfill(apps, schema_editor):
    # About 12 MB in one transaction: more than SQLite's page cache, so it spills into the log uncommitted.
    schema_editor.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
        "INSERT INTO shopext_widget (name, category_id) SELECT hex(randomblob(300)), NULL FROM n"
    )
    testhooks.pause_if("inside_migration")


class Migration(migrations.Migration):
    dependencies = [("shopext", "0001_initial")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]

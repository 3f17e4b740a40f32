"""Fails, after damaging the backup the guarded upgrade just made: the restore must then fail loudly (exit 4)."""

import os
from pathlib import Path

from django.db import migrations


def spoil(apps, schema_editor):
    backups = sorted(Path(os.environ["AURSWIFT_DATA_DIR"], "backups").glob("aurswift-backup-*.db"))
    data = bytearray(backups[-1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    backups[-1].write_bytes(bytes(data))
    raise RuntimeError("failed after the backup was damaged")


class Migration(migrations.Migration):
    dependencies = [("shopext", "0001_initial")]
    operations = [migrations.RunPython(spoil, migrations.RunPython.noop)]

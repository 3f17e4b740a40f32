import os
import sys

from django.db import migrations


def leave(apps, schema_editor):
    code = os.environ.get("SHOPEXT_EXIT_CODE", "0")
    sys.exit(int(code) if code.isdigit() else code)  # a third-party migration that ends the program


class Migration(migrations.Migration):
    dependencies = [("shopext", "0002_add_colour")]
    operations = [migrations.RunPython(leave, migrations.RunPython.noop)]

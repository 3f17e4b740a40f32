import os
import subprocess
import sys

from django.db import migrations, models


def chatter(apps, schema_editor):
    print("a migration that talks on stdout")
    sys.stdout.write("more words\n")
    os.write(1, b"raw bytes on file descriptor 1\n")
    subprocess.run([sys.executable, "-c", "print('a child process prints too')"], check=True)


class Migration(migrations.Migration):
    dependencies = [("shopext", "0001_initial")]
    operations = [
        migrations.AddField("widget", "colour", models.CharField(max_length=20, default="")),
        migrations.RunPython(chatter, migrations.RunPython.noop),
    ]

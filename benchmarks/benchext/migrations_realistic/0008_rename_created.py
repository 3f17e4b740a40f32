from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("benchext", "0007_note_product")]
    operations = [migrations.RenameField("note", "created_at", "written_at")]

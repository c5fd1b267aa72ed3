# The instrument-upload job is qc's (the upload services and task moved with it). The table is
# kept: this migration only drops the model from the api app's state; qc.0003 adopts the table.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0002_upload_received_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="InstrumentUpload")],
            database_operations=[],
        ),
    ]

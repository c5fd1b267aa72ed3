# E-signatures become their own low app (any record can be signed, not only QC's). The table is
# kept (it keeps its name, qc_signature): this drops the model from qc's state only;
# signatures.0001 adopts it.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("qc", "0003_instrumentupload"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Signature")],
            database_operations=[],
        ),
    ]

"""On PostgreSQL, refuse UPDATE and DELETE on the release record (acknowledgements and the
signed documents), with the append-only guard of ``audit.0002``."""

from django.db import migrations

TABLES = ["outcomes_exceptionacknowledgement", "outcomes_releasedocument"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION protocol_tracker_append_only();"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only_triggers"),
        ("outcomes", "0001_release_record"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

"""On PostgreSQL, refuse UPDATE and DELETE on the append-only GMP tables at the database level."""

from django.db import migrations

APPEND_ONLY_TABLES = ["audit_auditevent", "qc_signature"]

FUNCTION = """
CREATE OR REPLACE FUNCTION protocol_tracker_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %%: %% refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION protocol_tracker_append_only();"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS protocol_tracker_append_only();")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("qc", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

"""Refuse, at the database, any change to a published or retired protocol template.

The services already refuse; this makes a raw ``save()``, ``update()`` or SQL session refuse
too. A frozen protocol row may only go from ``published`` to ``retired`` with nothing else
changed; its stages, dependencies, tasks and checkpoints may not be inserted, updated or
deleted. Violations raise SQLSTATE 23000 (Django: ``IntegrityError``).

PostgreSQL (production) and SQLite (the embedded default) both get triggers. On SQLite DELETE
is left unguarded: Django flushes SQLite with ``DELETE FROM`` (PostgreSQL with ``TRUNCATE``,
which fires no row triggers), and a delete guard would make every transactional test fail to
tear down; the ORM's ``PROTECT`` foreign keys and the services still refuse deletes there.
Note for later migrations on SQLite: Django rebuilds a table to alter it, which drops its
triggers, so a migration that alters one of these tables must re-run :func:`forwards`.
"""

from django.db import migrations

MESSAGE = "protocol template is frozen (published or retired); create a new version to change it"

# How each child table reaches its protocol: a column, or a stage id column to look up.
CHILDREN = {
    "protocols_stagetemplate": ("protocol", "protocol_id"),
    "protocols_checkpointtemplate": ("protocol", "protocol_id"),
    "protocols_tasktemplate": ("stage", "stage_id"),
    "protocols_stagetemplate_depends_on": ("stage", "from_stagetemplate_id"),
}

PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION protocols_frozen_protocol_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'status') = (to_jsonb(OLD) - 'status')
       AND (NEW.status = OLD.status OR (OLD.status = 'published' AND NEW.status = 'retired')) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '{MESSAGE}: % of % v% refused', TG_OP, OLD.code, OLD.version
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION protocols_frozen_child_guard() RETURNS trigger AS $$
DECLARE
    images jsonb[] := ARRAY[]::jsonb[];
    image jsonb;
    protocol_status text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN images := array_append(images, to_jsonb(OLD)); END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN images := array_append(images, to_jsonb(NEW)); END IF;
    FOREACH image IN ARRAY images LOOP
        IF TG_ARGV[0] = 'protocol' THEN
            SELECT p.status INTO protocol_status FROM protocols_protocoltemplate p
             WHERE p.id = (image->>TG_ARGV[1])::bigint;
        ELSE
            SELECT p.status INTO protocol_status FROM protocols_protocoltemplate p
              JOIN protocols_stagetemplate s ON s.protocol_id = p.id
             WHERE s.id = (image->>TG_ARGV[1])::bigint;
        END IF;
        IF protocol_status IS NOT NULL AND protocol_status <> 'draft' THEN
            RAISE EXCEPTION '{MESSAGE}: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END LOOP;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def _sqlite_status(row: str, via: str, column: str) -> str:
    if via == "protocol":
        return f"(SELECT status FROM protocols_protocoltemplate WHERE id = {row}.{column})"
    return (
        "(SELECT p.status FROM protocols_protocoltemplate p JOIN protocols_stagetemplate s "
        f"ON s.protocol_id = p.id WHERE s.id = {row}.{column})"
    )


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS, params=None)
        schema_editor.execute(
            "CREATE TRIGGER protocols_protocoltemplate_frozen BEFORE UPDATE OR DELETE "
            "ON protocols_protocoltemplate FOR EACH ROW "
            "EXECUTE FUNCTION protocols_frozen_protocol_guard();"
        )
        for table, (via, column) in CHILDREN.items():
            schema_editor.execute(
                f"CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION protocols_frozen_child_guard('{via}', '{column}');"
            )
    elif vendor == "sqlite":
        protocol = apps.get_model("protocols", "ProtocolTemplate")
        same = " AND ".join(
            f"NEW.{f.column} IS OLD.{f.column}"
            for f in protocol._meta.concrete_fields
            if f.column != "status"
        )
        raise_sql = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
        statements = [
            "CREATE TRIGGER IF NOT EXISTS protocols_protocoltemplate_frozen_update "
            "BEFORE UPDATE ON protocols_protocoltemplate "
            f"WHEN OLD.status <> 'draft' AND NOT ({same} AND (NEW.status = OLD.status OR "
            f"(OLD.status = 'published' AND NEW.status = 'retired'))) {raise_sql}",
        ]
        for table, (via, column) in CHILDREN.items():
            old = f"{_sqlite_status('OLD', via, column)} <> 'draft'"
            new = f"{_sqlite_status('NEW', via, column)} <> 'draft'"
            statements += [
                f"CREATE TRIGGER IF NOT EXISTS {table}_frozen_insert BEFORE INSERT ON {table} "
                f"WHEN {new} {raise_sql}",
                f"CREATE TRIGGER IF NOT EXISTS {table}_frozen_update BEFORE UPDATE ON {table} "
                f"WHEN {old} OR {new} {raise_sql}",
            ]
        for statement in statements:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    tables = ["protocols_protocoltemplate", *CHILDREN]
    if vendor == "postgresql":
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table};")
        schema_editor.execute("DROP FUNCTION IF EXISTS protocols_frozen_protocol_guard();")
        schema_editor.execute("DROP FUNCTION IF EXISTS protocols_frozen_child_guard();")
    elif vendor == "sqlite":
        for table in tables:
            for op in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_{op};")


class Migration(migrations.Migration):
    dependencies = [("protocols", "0002_definition_hash")]

    operations = [migrations.RunPython(forwards, backwards)]

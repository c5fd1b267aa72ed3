# Translations per protocol version (stage, task and checkpoint names and descriptions).
#
# On SQLite, Django rebuilds a table to add a column: that drops the table's triggers, and the
# guards on the other tables (which name it) fail while it is being renamed. So the frozen-
# protocol guards of 0003 are dropped first and created again at the end. Every later migration
# that alters these tables must do the same (the first and last operations here).

import importlib

from django.db import migrations, models

frozen = importlib.import_module("protocol_tracker.protocols.migrations.0003_frozen_protocol_triggers")


def guards_off(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        frozen.backwards(apps, schema_editor)


def guards_on(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        frozen.forwards(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('protocols', '0003_frozen_protocol_triggers'),
    ]

    operations = [
        migrations.RunPython(guards_off, guards_on),
        migrations.AddField(
            model_name='checkpointtemplate',
            name='i18n',
            field=models.JSONField(blank=True, default=dict, help_text='Translations of the name and description, per language (part of the version).'),
        ),
        migrations.AddField(
            model_name='stagetemplate',
            name='i18n',
            field=models.JSONField(blank=True, default=dict, help_text='Translations of the name and description, per language (part of the version).'),
        ),
        migrations.AddField(
            model_name='tasktemplate',
            name='i18n',
            field=models.JSONField(blank=True, default=dict, help_text='Translations of the name and description, per language (part of the version).'),
        ),
        migrations.RunPython(guards_on, guards_off),
    ]

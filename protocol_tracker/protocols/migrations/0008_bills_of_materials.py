# Bills of materials and equipment kinds per stage and task (part of the protocol version).
#
# SQLite rebuilds the altered tables: the frozen-protocol guards of 0003 are dropped first and
# created again last (see 0004_translations).

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
        ('protocols', '0007_change_control'),
    ]

    operations = [
        migrations.RunPython(guards_off, guards_on),
        migrations.AddField(
            model_name='stagetemplate',
            name='equipment',
            field=models.JSONField(blank=True, default=list, help_text='Kinds of equipment the stage is worked with (part of the version).'),
        ),
        migrations.AddField(
            model_name='stagetemplate',
            name='materials',
            field=models.JSONField(blank=True, default=list, help_text="Bill of materials: the materials (by the lab's material code) whose lot is recorded when the stage is worked (part of the version)."),
        ),
        migrations.AddField(
            model_name='tasktemplate',
            name='materials',
            field=models.JSONField(blank=True, default=list, help_text='Bill of materials: the materials whose lot is recorded each time the task is done (part of the version).'),
        ),
        migrations.RunPython(guards_on, guards_off),
    ]

# The instrument-upload job moves from the api app to qc with its rows: qc adopts the existing
# table (state only), then renames it to qc's name.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0003_instrumentupload_moves_to_qc"),
        ("labs", "0001_initial"),
        ("qc", "0002_qcresult_passage"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="InstrumentUpload",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("filename", models.CharField(max_length=255)),
                        ("kind", models.CharField(max_length=8)),
                        ("size_bytes", models.PositiveBigIntegerField()),
                        ("params", models.JSONField(blank=True, default=dict)),
                        ("status", models.CharField(choices=[("received", "Received"), ("parsing", "Parsing"), ("parsed", "Parsed"), ("failed", "Failed")], default="received", max_length=10)),
                        ("error", models.JSONField(blank=True, null=True)),
                        ("result_ids", models.JSONField(blank=True, default=list)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("lab", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="labs.lab")),
                        ("raw_file", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="uploads", to="qc.rawfile")),
                        ("uploaded_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("uploaded_by_instrument", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="labs.instrument")),
                    ],
                    options={
                        "ordering": ["-created_at", "-id"],
                        "db_table": "api_instrumentupload",
                        "indexes": [
                            models.Index(condition=models.Q(("status", "received")), fields=["created_at"], name="upload_received_idx"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="instrumentupload", table=None),
    ]

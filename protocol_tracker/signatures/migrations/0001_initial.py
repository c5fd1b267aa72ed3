# The e-signature model moves here from qc with its rows: state only, the table stays
# qc_signature (the append-only trigger and the audit migrations name it).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("labs", "0001_initial"),
        ("qc", "0004_signature_moves_to_signatures"),
        ("runs", "0003_run_post_release_completed_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Signature",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("signer_name", models.CharField(max_length=200)),
                        ("meaning", models.CharField(choices=[("reviewed", "Reviewed"), ("approved", "Approved"), ("released", "Released"), ("rejected", "Rejected")], max_length=10)),
                        ("object_type", models.CharField(max_length=64)),
                        ("object_id", models.CharField(max_length=64)),
                        ("record_hash", models.CharField(max_length=64)),
                        ("statement", models.TextField()),
                        ("signed_at", models.DateTimeField(auto_now_add=True)),
                        ("lab", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="signatures", to="labs.lab")),
                        ("run", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="signatures", to="runs.run")),
                        ("signer", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="signatures", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "qc_signature",
                        "ordering": ["signed_at", "id"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]

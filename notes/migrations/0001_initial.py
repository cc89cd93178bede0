"""The notes table exactly as the original design's 001_initial_notes.sql made it.

Indexes come in 0002, so that `migrate --fake-initial` can adopt an existing
original table (this migration is then recorded, not run) and still build them.
"""

from django.db import migrations, models

import notes.models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("content", models.CharField(max_length=255)),
                ("times_sent", models.IntegerField(db_default=0, editable=False)),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=notes.models.CurrentTimestamp(), editable=False
                    ),
                ),
                (
                    "updated_at",
                    models.DateTimeField(
                        db_default=notes.models.CurrentTimestamp(), editable=False
                    ),
                ),
            ],
            options={"db_table": "notes", "ordering": ["-created_at", "-id"]},
        ),
    ]

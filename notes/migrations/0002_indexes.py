"""Indexes for every allowed ordering (with its id tie-break), send-next, and full-text search."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["created_at", "id"], name="notes_created_at_id_idx"),
        ),
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["updated_at", "id"], name="notes_updated_at_id_idx"),
        ),
        migrations.AddIndex(
            model_name="note",
            index=models.Index(fields=["times_sent", "id"], name="notes_times_sent_id_idx"),
        ),
        migrations.AddIndex(
            model_name="note",
            index=models.Index(
                fields=["times_sent", "created_at", "id"], name="notes_send_next_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="note",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("content", config="english"),
                name="notes_content_search_idx",
            ),
        ),
    ]

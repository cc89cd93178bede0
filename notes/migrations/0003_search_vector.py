"""The search vector is stored, with its GIN index, instead of computed by an index expression."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notes", "0002_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="note",
            name="notes_content_search_idx",
        ),
        migrations.AddField(
            model_name="note",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector("content", config="english"),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="note",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_vector"], name="notes_search_vector_idx"
            ),
        ),
    ]

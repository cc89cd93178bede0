"""The position of the latest write whose read-your-writes pin Redis could not keep (notes.pins)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notes", "0003_search_vector"),
    ]

    operations = [
        migrations.CreateModel(
            name="UnpinnedWrite",
            fields=[
                ("id", models.SmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("position", models.BigIntegerField()),
            ],
            options={
                "db_table": "notes_unpinned_write",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("id", 1)), name="notes_unpinned_write_one_row"
                    )
                ],
            },
        ),
    ]

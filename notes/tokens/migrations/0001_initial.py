"""Tokens as digests, and every key of DRF's authtoken table turned into its digest.

A database that had DRF's `authtoken_token` table (keys in plain text) has
each key's digest, hint, user and creation time copied here, and that table
dropped, so the keys its clients hold keep working and no copy of the
database holds them any more. Going back leaves the digests' table dropped:
keys cannot be recovered from digests.
"""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

LEGACY_TABLE = "authtoken_token"

# SHA-256 of the key in hex, as notes.tokens.models.key_digest; the hint keeps
# the last 4 characters (these keys had no prefix).
COPY_LEGACY_KEYS = f"""
INSERT INTO notes_token (digest, hint, name, created, user_id)
SELECT encode(sha256(convert_to(key, 'UTF8')), 'hex'), '…' || right(key, 4), '', created, user_id
FROM {LEGACY_TABLE}
"""


def digest_legacy_keys(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute(COPY_LEGACY_KEYS)
        cursor.execute(f"DROP TABLE {LEGACY_TABLE}")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Token",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("hint", models.CharField(editable=False, max_length=16, verbose_name="key")),
                (
                    "name",
                    models.CharField(
                        blank=True, help_text="What the token is for.", max_length=100
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "last_used",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="last use"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "notes_token",
                "ordering": ["-created"],
            },
        ),
        migrations.RunPython(digest_legacy_keys, migrations.RunPython.noop, elidable=False),
    ]

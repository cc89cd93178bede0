"""The idempotency-keys app."""

from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "notes.idempotency"
    label = "idempotency"
    default_auto_field = "django.db.models.AutoField"

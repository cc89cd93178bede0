"""The REST tokens app (in place of DRF's authtoken, which stores each key as it is sent)."""

from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "notes.tokens"
    label = "tokens"
    verbose_name = "REST tokens"
    default_auto_field = "django.db.models.BigAutoField"

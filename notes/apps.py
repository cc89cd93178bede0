"""The notes app."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class NotesConfig(AppConfig):
    name = "notes"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from notes import database_timeouts
        from notes.api import checks  # noqa: F401 (registers the API's system checks)

        # Sent once per migrate for this app, before any migration and after all.
        pre_migrate.connect(database_timeouts.lift_for_migrate, sender=self)
        post_migrate.connect(database_timeouts.restore_after_migrate, sender=self)

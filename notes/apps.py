"""The notes app."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class NotesConfig(AppConfig):
    name = "notes"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.conf import settings
        from django.contrib.auth.signals import user_login_failed
        from django.core.signals import request_finished

        from notes import database_timeouts, logins, replica

        # After axes' own receiver (axes comes first in INSTALLED_APPS), so the
        # attempt is recorded and its address known when it is logged.
        user_login_failed.connect(logins.count_failure, dispatch_uid="notes-login-failed")
        user_locked_out.connect(logins.count_lockout, dispatch_uid="notes-login-locked")

        # Sent once per migrate for this app, before any migration and after all.
        pre_migrate.connect(database_timeouts.lift_for_migrate, sender=self)
        post_migrate.connect(database_timeouts.restore_after_migrate, sender=self)

        if replica.REPLICA in settings.DATABASES:
            # A replica connection that led to a promoted member closes after its request.
            request_finished.connect(replica.close_promoted_connection)

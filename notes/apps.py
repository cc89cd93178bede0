"""The notes app."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class NotesConfig(AppConfig):
    name = "notes"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_login_failed
        from django.core.checks import Tags, register

        from notes import database_timeouts, logins
        from notes.api import checks

        # After axes' own receiver (axes comes first in INSTALLED_APPS), so the
        # attempt is recorded and its address known when it is logged.
        user_login_failed.connect(logins.count_failure, dispatch_uid="notes-login-failed")
        user_locked_out.connect(logins.count_lockout, dispatch_uid="notes-login-locked")

        register(checks.permissions_decide_per_request, Tags.security)
        register(checks.csrf_middleware_in_the_chain, Tags.security, deploy=True)

        # Sent once per migrate for this app, before any migration and after all.
        pre_migrate.connect(database_timeouts.lift_for_migrate, sender=self)
        post_migrate.connect(database_timeouts.restore_after_migrate, sender=self)

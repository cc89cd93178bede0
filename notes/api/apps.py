"""The HTTP layer, an app of its own: its system checks and signal receivers connect here."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "notes.api"
    label = "notes_api"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.core.checks import Tags, register
        from django.core.signals import request_finished
        from django.db.models.signals import post_delete, post_save

        from notes.api import authentication, checks, request_id
        from notes.tokens.models import Token

        register(checks.permissions_decide_per_request, Tags.security)
        register(checks.csrf_middleware_in_the_chain, Tags.security, deploy=True)

        # A token or user saved or deleted leaves this process's token cache at once.
        forget_token, forget_user = authentication.forget_token_user, authentication.forget_user
        user = get_user_model()
        post_save.connect(forget_token, sender=Token, dispatch_uid="token-cache-token-saved")
        post_delete.connect(forget_token, sender=Token, dispatch_uid="token-cache-token-deleted")
        post_save.connect(forget_user, sender=user, dispatch_uid="token-cache-user-saved")
        post_delete.connect(forget_user, sender=user, dispatch_uid="token-cache-user-deleted")

        # A request's id leaves the thread when its response is closed (gunicorn logs its
        # access line before that, with the id).
        request_finished.connect(request_id.forget_request_id, dispatch_uid="request-id-forget")

"""System checks (`manage.py check`, run by every management command) of the API's assumptions.

NotesConfig.ready() registers them.
"""

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission

# Django's deployment check security.W003 looks for this exact path in MIDDLEWARE,
# and is silenced: notes.api.browser_only's subclass of it stands there instead.
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"


def permissions_decide_per_request(**kwargs: Any) -> list[checks.CheckMessage]:
    """NoteViewSet's writes do not read their note first, so no permission may need to see it.

    A write is one statement that finds its note or finds none, and nothing
    calls has_object_permission on the way. A permission that decides note by
    note would be skipped silently: such a permission needs the write actions
    to read the note first (get_object()), so this check refuses to start
    without that change.
    """
    from notes.api.views import NoteViewSet

    per_note = [
        type(permission).__name__
        for permission in NoteViewSet().get_permissions()
        if type(permission).has_object_permission is not BasePermission.has_object_permission
    ]
    if not per_note:
        return []
    return [
        checks.Error(
            f"{', '.join(per_note)} decide(s) note by note, but NoteViewSet's writes never "
            "read their note, so has_object_permission would never be asked.",
            hint="Read the note with get_object() in the write actions first.",
            obj=NoteViewSet,
            id="notes.E001",
        )
    ]


def csrf_middleware_in_the_chain(**kwargs: Any) -> list[checks.CheckMessage]:
    """Django's security.W003, asked of classes: is CsrfViewMiddleware, or a subclass, there?"""
    csrf = import_string(CSRF_MIDDLEWARE)
    if any(issubclass(import_string(path), csrf) for path in settings.MIDDLEWARE):
        return []
    return [
        checks.Warning(
            f"Neither {CSRF_MIDDLEWARE} nor a subclass of it is in MIDDLEWARE: "
            "forms are not protected from cross-site request forgery.",
            hint="Add notes.api.browser_only.CsrfViewMiddleware to MIDDLEWARE.",
            id="notes.W003",
        )
    ]

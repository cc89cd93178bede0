"""System checks (`manage.py check`, run by every management command) of the API's assumptions."""

from typing import Any

from django.core import checks
from rest_framework.permissions import BasePermission


@checks.register(checks.Tags.security)
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

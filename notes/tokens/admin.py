"""Tokens in the admin: a key's prefix and last characters, its user, creation and last use.

Never the key, which the service does not have. A token is made with
`drf_create_token` (which prints its key once) and revoked here by deleting it.
"""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from notes.tokens.models import Token

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Token]
else:
    ModelAdmin = admin.ModelAdmin


@admin.register(Token)
class TokenAdmin(ModelAdmin):
    list_display = ["hint", "name", "user", "created", "last_used"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name"]
    fields = ["hint", "name", "user", "created", "last_used"]
    readonly_fields = ["hint", "user", "created", "last_used"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The key must be shown once to whoever makes it: drf_create_token does that.
        return False

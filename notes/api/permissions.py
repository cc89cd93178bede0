"""Who may do what: reads are public unless NOTES_PUBLIC_READ is off; writes need a user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class IsAuthenticatedOrPublicRead(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS and settings.NOTES_PUBLIC_READ:
            return True
        return bool(request.user and request.user.is_authenticated)

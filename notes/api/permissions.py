"""Who may do what: reads are public unless NOTES_PUBLIC_READ is off; writes need a user."""

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsAuthenticatedOrPublicRead(BasePermission):
    def has_permission(self, request, view):
        if request.method in SAFE_METHODS and settings.NOTES_PUBLIC_READ:
            return True
        return bool(request.user and request.user.is_authenticated)

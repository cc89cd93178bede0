"""REST clients authenticate with DRF's `Authorization: Token <key>` scheme."""

from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

TOKEN_KEY_LENGTH = Token._meta.get_field("key").max_length


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token scheme; a key no token can have fails without a database lookup.

    PostgreSQL refuses NUL characters outright, so such a key must not reach it.
    """

    def authenticate_credentials(self, key):
        if len(key) > TOKEN_KEY_LENGTH or "\x00" in key:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)

"""REST clients authenticate with DRF's `Authorization: Token <key>` scheme."""

import threading
import time
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from notes import selectors
from notes.api.exceptions import TokenExpired

TOKEN_KEY_LENGTH = cast(int, Token._meta.get_field("key").max_length)


class TokenCache:
    """Token key -> (user, token) for a few seconds per process, so most requests skip the join.

    The bound (TOKEN_CACHE_SECONDS) is how long a deleted token or deactivated
    user keeps working in *other* processes; in the process that made the
    change, signals drop the entry at once. 0 turns the cache off. An entry
    keeps the token's creation time, and its age is checked on every hit, so
    no entry outlives TOKEN_MAX_AGE.
    """

    max_entries = 10_000

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, AbstractBaseUser, Token]] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> tuple[AbstractBaseUser, Token] | None:
        entry = self.entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def put(self, key: str, user: AbstractBaseUser, token: Token) -> None:
        seconds = settings.TOKEN_CACHE_SECONDS
        if seconds <= 0:
            return
        with self.lock:
            if len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.entries[key] = (time.monotonic() + seconds, user, token)

    def forget_user(self, user_id: int) -> None:
        with self.lock:
            stale = [key for key, entry in self.entries.items() if entry[1].pk == user_id]
            for key in stale:
                del self.entries[key]


token_cache = TokenCache()


def check_age(token: Token) -> None:
    """Refuse a token created more than TOKEN_MAX_AGE seconds ago (unset: tokens do not age)."""
    max_age = settings.TOKEN_MAX_AGE
    if max_age is not None and timezone.now() - token.created > timedelta(seconds=max_age):
        raise TokenExpired


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token scheme, its user read in one join and remembered briefly (TokenCache).

    A key no token can have fails without a database lookup: PostgreSQL refuses
    NUL characters outright, so such a key must not reach it. A token past
    TOKEN_MAX_AGE fails with the code token_expired, remembered or not.
    """

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        if len(key) > TOKEN_KEY_LENGTH or "\x00" in key:
            raise exceptions.AuthenticationFailed("Invalid token.")
        cached = token_cache.get(key)
        if cached is not None:
            check_age(cached[1])
            return cached
        found = selectors.user_for_token(key=key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user, created = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = Token(key=key, user=user, created=created)  # type: ignore[misc]
        # Remembered even when too old, so its later refusals cost no query either.
        token_cache.put(key, user, token)
        check_age(token)
        return user, token


def _forget_token_user(sender: type[Token], instance: Token, **kwargs: Any) -> None:
    token_cache.forget_user(instance.user_id)


def _forget_user(sender: type[AbstractBaseUser], instance: AbstractBaseUser, **kwargs: Any) -> None:
    token_cache.forget_user(instance.pk)


post_save.connect(_forget_token_user, sender=Token, dispatch_uid="token-cache-token-saved")
post_delete.connect(_forget_token_user, sender=Token, dispatch_uid="token-cache-token-deleted")
post_save.connect(_forget_user, sender=get_user_model(), dispatch_uid="token-cache-user-saved")
post_delete.connect(_forget_user, sender=get_user_model(), dispatch_uid="token-cache-user-deleted")

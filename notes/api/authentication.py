"""REST clients authenticate with DRF's `Authorization: Token <key>`, looked up by its digest."""

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, router
from django.utils import timezone
from rest_framework import authentication, exceptions

from notes import selectors, services
from notes.api.exceptions import TokenExpired
from notes.tokens.keys import KEY_MAX_LENGTH, key_digest
from notes.tokens.models import Token

logger = logging.getLogger(__name__)

# A token's last use is recorded when it is looked up (not on a cache hit) and
# the one recorded is older than this: to the minute, at most a write a minute.
LAST_USE_PRECISION = timedelta(minutes=1)


class TokenCache:
    """Token key -> (user, token) for a few seconds per process, so most requests skip the join.

    Keyed by the key a client sent, in this process's memory only, so a hit
    costs no digest either; the database sees only digests.

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
    """DRF's token scheme, looked up by the key's digest in one join, remembered briefly.

    A key longer than any token's fails without a digest or a lookup. A token
    past TOKEN_MAX_AGE fails with the code token_expired, remembered or not.
    """

    model = Token

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        if len(key) > KEY_MAX_LENGTH:
            raise exceptions.AuthenticationFailed("Invalid token.")
        cached = token_cache.get(key)
        if cached is not None:
            check_age(cached[1])
            return cached
        token = selectors.token_by_digest(digest=key_digest(key))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # Remembered even when too old, so its later refusals cost no query either.
        token_cache.put(key, user, token)
        check_age(token)
        record_use(token)
        return user, token


def record_use(token: Token) -> None:
    """The token's last use, when the recorded one is a minute old; never fails the request."""
    if token.last_used is not None and timezone.now() - token.last_used < LAST_USE_PRECISION:
        return
    if router.db_for_read(Token) != DEFAULT_DB_ALIAS:
        return  # the primary is lost (authentication read the replica): no wait on it
    try:
        services.record_token_use(token_id=token.pk)
    except DatabaseError as exc:
        logger.warning("A token's last use was not recorded: %s", exc)


def forget_token_user(sender: type[Token], instance: Token, **kwargs: Any) -> None:
    """post_save and post_delete of a token (ApiConfig.ready() connects them)."""
    token_cache.forget_user(instance.user_id)


def forget_user(sender: type[AbstractBaseUser], instance: AbstractBaseUser, **kwargs: Any) -> None:
    """post_save and post_delete of a user (ApiConfig.ready() connects them)."""
    token_cache.forget_user(instance.pk)

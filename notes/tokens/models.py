"""A REST token: the SHA-256 digest of its key, never the key, with its user and its uses.

A key is `notes_` and 48 hex digits (192 random bits): the prefix lets secret
scanners recognise a leaked one. The key exists only on the instance that
`Token.objects.issue` returns; the table holds its digest, which a copy of the
database, a backup or a replica cannot turn back into a key. Keys made before
digests (40 hex digits, no prefix) were turned into digests by migration 0001
and keep working: a key is looked up by its digest, whatever its form.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models

from notes.tokens.keys import KEY_PREFIX, KEY_RANDOM_BYTES, key_digest, key_hint


class TokenManager(models.Manager["Token"]):
    def issue(self, user: Any, name: str = "") -> Token:
        """A new token for `user`; its `key` is on the returned instance only, to be shown once."""
        key = KEY_PREFIX + secrets.token_hex(KEY_RANDOM_BYTES)
        token = self.create(digest=key_digest(key), hint=key_hint(key), user=user, name=name)
        token.key = key
        return token


class Token(models.Model):
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField("key", max_length=16, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for.")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField("last use", null=True, blank=True, editable=False)

    objects = TokenManager()

    # The key itself: set by TokenManager.issue on the instance it returns, never stored.
    key: str | None = None

    class Meta:
        db_table = "notes_token"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.hint} ({self.name})" if self.name else self.hint

"""The idempotency keys table: a user's keys and the outcome of the write that first used each."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


class IdempotencyKey(models.Model):
    """One user's key and the outcome of the request that first used it."""

    pk = models.CompositePrimaryKey("user", "key")
    # The primary key's first column already indexes the user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: a reuse for another request is told apart.
    fingerprint = models.BinaryField()
    status = models.PositiveSmallIntegerField()
    body = models.BinaryField()
    # Response headers; empty when the response had none.
    content_type = models.CharField(max_length=255, blank=True)
    location = models.CharField(max_length=2048, blank=True)
    etag = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "idempotency_keys"
        indexes = [models.Index(fields=["created_at"], name="idempotency_keys_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"

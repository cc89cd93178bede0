"""Idempotency keys: an app of its own, so its schema migrates apart from the notes table's."""

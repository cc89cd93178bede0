"""A token's key, its digest and its hint: plain functions, usable without Django."""

import hashlib

KEY_PREFIX = "notes_"
KEY_RANDOM_BYTES = 24
# The longest key there is; a longer one is refused without a lookup.
KEY_MAX_LENGTH = len(KEY_PREFIX) + 2 * KEY_RANDOM_BYTES
# Characters of a key's end the admin shows, to tell a user's keys apart.
HINT_CHARACTERS = 4


def key_digest(key: str) -> str:
    """What the table stores of a key: SHA-256 is enough for a random key of 160 bits or more."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    """The prefix and the last characters: enough to recognise a key, never to use it."""
    prefix = KEY_PREFIX if key.startswith(KEY_PREFIX) else ""
    return f"{prefix}…{key[-HINT_CHARACTERS:]}"

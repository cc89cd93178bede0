"""REST tokens stored as SHA-256 digests of their keys: a key is shown once, when it is made."""

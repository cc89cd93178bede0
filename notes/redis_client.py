"""The one Redis client factory: the rate limits and the replica's write pins share it."""

import functools

import redis


@functools.lru_cache
def redis_client(url: str) -> redis.Redis:
    """One client, and so one connection pool, per process and URL.

    redis-py opens a new connection after a fork, so gunicorn's workers never
    share the master's. Short timeouts: an unreachable Redis fails its callers
    fast, and each of them carries on without it (rate limits are not enforced,
    reads go to the primary).
    """
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)

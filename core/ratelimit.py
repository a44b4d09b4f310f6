"""Rate limits: a fixed-window counter that counts atomically across every web process and machine.

`hit(key, limit=..., period=...)` counts one request against `key` in the current window (`period` seconds,
aligned to the epoch) and answers whether it is within `limit` and how many seconds remain until the window
resets, which is the `Retry-After` of a 429. The n-th request of a window sees exactly n, so under any
concurrency exactly `limit` requests pass:

- with `REDIS_URL` set: one Redis key per key and window, `INCR` and `EXPIRE` (to the window's end) in one
  MULTI/EXEC;
- otherwise: one row per key in the table `leadwerk_rate_counter` (created by a migration of `leads`),
  counted by a single `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` (`_HIT_SQL`).

Windows follow this process's clock (the machines of one deployment keep time with NTP); a request that a
slightly slow clock places in the previous window counts in the newer one, so skew never lets more through.
When Redis does not answer, the request is let through and the error logged: a throttle must not take
capture down. Rows of windows that are over are deleted by `purge_expired()` (an hourly task).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

TABLE = "leadwerk_rate_counter"
REDIS_PREFIX = "leadwerk:rate:"
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

# One statement, atomic under concurrency: the first hit of a key inserts 1; later hits in the same window
# add 1; the first hit of a newer window starts again at 1. `RETURNING` gives this hit's number.
_HIT_SQL = f"""
    INSERT INTO {TABLE} AS c (key, window_start, hits, expires_at) VALUES (%s, %s, 1, %s)
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN c.window_start < EXCLUDED.window_start THEN 1 ELSE c.hits + 1 END,
        window_start = GREATEST(c.window_start, EXCLUDED.window_start),
        expires_at = GREATEST(c.expires_at, EXCLUDED.expires_at)
    RETURNING hits
"""  # noqa: S608 - the table name is a constant
_PURGE_SQL = f"DELETE FROM {TABLE} WHERE expires_at < %s"  # noqa: S608 - the table name is a constant


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int  # this request's number in its window
    limit: int
    retry_after: int  # whole seconds until the window resets (at least 1)


def parse(rate: str) -> tuple[int, int]:
    """'30/minute' -> (30, 60). The settings validated the shape at start-up (config.env.rate)."""
    number, _sep, period = rate.partition("/")
    return int(number), PERIODS[period]


def hit(key: str, *, limit: int, period: int, now: float | None = None) -> Decision:
    """Count one request against `key`; allowed while its number in the window is at most `limit`."""
    now = time.time() if now is None else now
    window = int(now // period) * period
    reset = window + period
    name = f"{key}:{period}"
    retry_after = max(1, math.ceil(reset - now))
    if settings.REDIS_URL:
        count = _redis_hit(name, window, ttl=retry_after + 1)
    else:
        count = _database_hit(name, window, reset)
    if count is None:  # Redis did not answer: let it through
        return Decision(allowed=True, count=0, limit=limit, retry_after=retry_after)
    return Decision(allowed=count <= limit, count=count, limit=limit, retry_after=retry_after)


def purge_expired(*, now: float | None = None) -> int:
    """Delete the database counters of windows that are over (Redis expires its keys itself)."""
    now = time.time() if now is None else now
    with connection.cursor() as cursor:
        cursor.execute(_PURGE_SQL, [int(now)])
        return cursor.rowcount


def _database_hit(name: str, window: int, reset: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_HIT_SQL, [name, window, reset])
        return cursor.fetchone()[0]


def _redis_hit(name: str, window: int, *, ttl: int) -> int | None:
    import redis

    key = f"{REDIS_PREFIX}{name}:{window}"
    try:
        pipe = redis_client(settings.REDIS_URL).pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, ttl)
        count, _expiry = pipe.execute()
    except redis.RedisError:
        logger.exception("Rate limit: Redis did not answer; the request is let through")
        return None
    return int(count)


_clients: dict[str, object] = {}


def redis_client(url: str):
    """One client (with its connection pool) per URL and process; redis-py reconnects after a fork."""
    client = _clients.get(url)
    if client is None:
        import redis

        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return client

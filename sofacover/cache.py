"""The shared cache (rate-limit counters, sessions before the database) on Redis, failing open when it is down.

Redis also carries the Celery broker, so an outage is expected to be survivable:
tickets and replies must keep being accepted (their timers live in the database).
While Redis is down, reads miss, writes are dropped and counters start afresh, so
rate limits are not enforced until it is back; one warning per minute says so.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
WARN_EVERY_SECONDS = 60.0


def cache_config(url: str) -> dict[str, Any]:
    return {
        "BACKEND": "sofacover.cache.ResilientRedisCache",
        "LOCATION": url,
        # Bounded: a request never waits long on a Redis that is gone.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }


class ResilientRedisCache(RedisCache):
    _last_warning = 0.0

    def _unavailable(self, error: Exception) -> None:
        now = time.monotonic()
        if now - ResilientRedisCache._last_warning > WARN_EVERY_SECONDS:
            ResilientRedisCache._last_warning = now
            logger.warning("Cache unavailable (%s): rate limits are not enforced until Redis is back", error)

    def add(self, key, value, timeout=None, version=None):
        try:
            return super().add(key, value, timeout, version)
        except UNAVAILABLE as error:
            self._unavailable(error)
            return True  # a fresh counter: the caller counts from its initial value

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNAVAILABLE as error:
            self._unavailable(error)
            return default

    def set(self, key, value, timeout=None, version=None):
        try:
            super().set(key, value, timeout, version)
        except UNAVAILABLE as error:
            self._unavailable(error)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except UNAVAILABLE as error:
            self._unavailable(error)
            raise ValueError(f"Key {key!r} not found (cache unavailable)") from error

    def has_key(self, key, version=None):
        # The sessions ask (cached_db: is this new key taken?); a miss sends them to the database.
        try:
            return super().has_key(key, version)
        except UNAVAILABLE as error:
            self._unavailable(error)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except UNAVAILABLE as error:
            self._unavailable(error)
            return False

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNAVAILABLE as error:
            self._unavailable(error)
            return {}

    def set_many(self, data, timeout=None, version=None):
        try:
            return super().set_many(data, timeout, version)
        except UNAVAILABLE as error:
            self._unavailable(error)
            return list(data)

    def clear(self):
        try:
            return super().clear()
        except UNAVAILABLE as error:
            self._unavailable(error)
            return False

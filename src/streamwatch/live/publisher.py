"""Coalesces risk-view updates and counters off the per-event path, and flushes them to Redis.

The agent calls ``mark`` and the counters synchronously; a timer calls ``flush`` a few times a
second, and once more at shutdown. Redis is a view, not the source of truth: when it cannot be
reached the worker logs, keeps what it could not write, and tries again at the next flush,
while Kafka processing carries on.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from redis.exceptions import RedisError

from streamwatch.live.metrics import Counters
from streamwatch.live.redis_view import RiskView

log = structlog.get_logger("streamwatch.live.publisher")


class RedisPublisher:
    """Pending customer views (latest per customer) and counters, written by ``flush``."""

    def __init__(self, view: RiskView, counters: Counters) -> None:
        self.view = view
        self.counters = counters
        self._pending: dict[str, Mapping[str, str]] = {}
        self._failing = False

    def mark(self, customer_id: str, fields: Mapping[str, str]) -> None:
        """Queue a customer's view (``redis_view.customer_view``); a later mark replaces it."""
        self._pending[customer_id] = fields

    async def flush(self) -> bool:
        """Write what is pending in one round trip; False (and keep it) if Redis failed."""
        views, self._pending = self._pending, {}
        counts = self.counters.drain()
        if not views and not counts:
            return True
        try:
            await self.view.publish(views, counts)
        except (RedisError, OSError) as exc:
            views.update(self._pending)
            self._pending = views
            self.counters.restore(counts)
            if not self._failing:
                log.warning("redis view not updated; will retry", error=str(exc))
            self._failing = True
            return False
        if self._failing:
            log.info("redis view updated again")
            self._failing = False
        return True

    async def close(self) -> None:
        """Flush one last time and close the Redis connection pool."""
        await self.flush()
        await self.view.client.aclose()

"""The book of what Alertmanager was told, kept in Redis so that a restarted (or another)
``streamwatch notify`` goes on re-sending the open alerts.

Key (``P`` is the deployment prefix, ``DeploymentSettings.redis_prefix``): ``P notify:alerts``,
a hash of alert id -> ``Entry.to_dict()`` as JSON. An entry that cannot be read (written by
another version) is dropped with a warning rather than stopping the re-sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import orjson
import structlog
from redis.asyncio import Redis

from streamwatch.notify.alertmanager import Entry

log = structlog.get_logger("streamwatch.notify")

BOOK_KEY: Final = "notify:alerts"


class Book:
    """The entries of one deployment (see the module docstring)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}{BOOK_KEY}"

    async def get(self, alert_id: str) -> Entry | None:
        """The entry of ``alert_id``, if any; raises RedisError."""
        raw = await self.redis.hget(self.key, alert_id)
        return _entry(alert_id, raw) if raw is not None else None

    async def put(self, alert_id: str, entry: Entry) -> None:
        """Record ``entry``; raises RedisError."""
        await self.redis.hset(self.key, alert_id, orjson.dumps(entry.to_dict()))

    async def remove(self, alert_ids: Iterable[str]) -> None:
        """Forget these alerts; raises RedisError."""
        ids = list(alert_ids)
        if ids:
            await self.redis.hdel(self.key, *ids)

    async def remove_if_unchanged(self, alert_id: str, entry: Entry) -> None:
        """Forget ``alert_id`` if its entry is still ``entry`` (a newer revision may have come
        in meanwhile); raises RedisError."""
        raw = await self.redis.hget(self.key, alert_id)
        if raw is not None and _entry(alert_id, raw) == entry:
            await self.redis.hdel(self.key, alert_id)

    async def all(self) -> dict[str, Entry]:
        """Every readable entry by alert id; raises RedisError."""
        out: dict[str, Entry] = {}
        bad = []
        for field, raw in (await self.redis.hgetall(self.key)).items():
            alert_id = field.decode() if isinstance(field, bytes) else str(field)
            entry = _entry(alert_id, raw)
            if entry is None:
                bad.append(alert_id)
            else:
                out[alert_id] = entry
        await self.remove(bad)
        return out


def _entry(alert_id: str, raw: bytes | str) -> Entry | None:
    try:
        return Entry.from_dict(orjson.loads(raw))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("unreadable book entry dropped", alert_id=alert_id, error=str(exc))
        return None

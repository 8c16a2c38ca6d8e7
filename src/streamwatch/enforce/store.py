"""The suspension worker's records in Redis: one hash per request, the approval queue, and the
hourly caps.

Keys (``P`` is the deployment prefix, ``DeploymentSettings.redis_prefix``):

- ``P enforce:request:<request_id>`` hash: ``request`` (the signed request, JSON), ``state``,
  ``version`` (bumped by every change; the compare-and-set token), ``attempt``,
  ``withdraw_attempt``, ``approved_by``, ``rejected_by``, ``note``, ``decided_at``, ``result``
  (the latest result message, JSON), ``result_id``, ``published`` (the result_id last known on
  the results topic), ``updated_at``. Kept ``RECORD_TTL_S`` after its last change: longer than
  the enforcement topic's retention, so that no redelivered request outlives its record.
- ``P enforce:pending`` sorted set of request ids awaiting approval, scored by when they were
  held (epoch ms).
- ``P enforce:cap:<rule id>:<YYYYMMDDHH>`` set of the customers a rule acted on in that
  wall-clock hour (UTC); expires after two hours.
- ``P enforce:metrics`` hash of counters (``streamwatch.enforce.metrics``).

Every change is one Lua script, so it is atomic: a record is created only if absent, changed
only if its version is the one the caller loaded, and a customer is admitted under a cap only
while the cap has room.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

import orjson
from redis.asyncio import Redis

from streamwatch.core.timeutil import format_ts
from streamwatch.enforce.decide import AWAITING, STATES, Record, hour_bucket
from streamwatch.enforce.messages import request_from_dict

RECORD_TTL_S: Final = 35 * 24 * 3600
CAP_TTL_S: Final = 2 * 3600

_CREATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3]) end
return 1
"""
"""KEYS: record, pending. ARGV: ttl, pending score ('' = not pending), request id, fields..."""

_TRANSITION: Final = """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[3])
end
return 1
"""
"""KEYS: record, pending. ARGV: ttl, pending score ('' = not pending), request id, expected
version, fields..."""

_ADMIT: Final = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""
"""KEYS: the cap's set. ARGV: customer, cap, ttl. 1 if the customer is (or now is) counted."""

_MARK_PUBLISHED: Final = """
if redis.call('HGET', KEYS[1], 'result_id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'published', ARGV[1])
end
return 1
"""


class RequestStore:
    """Records of enforcement requests under one key prefix (see the module docstring).

    Every method raises redis.RedisError (or OSError) when Redis refuses or cannot be reached.
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.pending_key = f"{prefix}enforce:pending"
        self.metrics_key = f"{prefix}enforce:metrics"
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)
        self._admit = client.register_script(_ADMIT)
        self._mark = client.register_script(_MARK_PUBLISHED)

    def record_key(self, request_id: str) -> str:
        """The hash of one request."""
        return f"{self.prefix}enforce:request:{request_id}"

    def cap_key(self, policy: str, now_ms: int) -> str:
        """The set of customers rule ``policy`` acted on in the hour of ``now_ms``."""
        return f"{self.prefix}enforce:cap:{policy}:{hour_bucket(now_ms)}"

    async def load(self, request_id: str) -> tuple[Record, int] | None:
        """The record of ``request_id`` and its version, or None if there is none."""
        fields = await self.client.hgetall(self.record_key(request_id))
        if not fields:
            return None
        return record_from_fields({_text(k): _text(v) for k, v in fields.items()})

    async def create(self, record: Record, now_ms: int) -> bool:
        """Store a new record (version 1); False if the request has one already."""
        key = self.record_key(record.request.request_id)
        args = [
            RECORD_TTL_S,
            _pending_score(record, now_ms),
            record.request.request_id,
            *_flat(record_fields(record, 1, now_ms)),
        ]
        return bool(await self._create(keys=[key, self.pending_key], args=args))

    async def transition(self, record: Record, version: int, now_ms: int) -> int | None:
        """Replace the record loaded at ``version`` by ``record``; its new version, or None if
        the record changed since it was loaded (load it again and decide again)."""
        key = self.record_key(record.request.request_id)
        args = [
            RECORD_TTL_S,
            _pending_score(record, now_ms),
            record.request.request_id,
            version,
            *_flat(record_fields(record, version + 1, now_ms)),
        ]
        changed = await self._transition(keys=[key, self.pending_key], args=args)
        return version + 1 if changed else None

    async def admit(self, policy: str, customer_id: str, cap: int, now_ms: int) -> bool:
        """Whether rule ``policy`` may act on ``customer_id`` this hour: True if the customer is
        already counted in the hour, or is counted now because the cap has room."""
        key = self.cap_key(policy, now_ms)
        return bool(await self._admit(keys=[key], args=[customer_id, cap, CAP_TTL_S]))

    async def mark_published(self, results: Iterable[tuple[str, str]]) -> None:
        """Note that results ``(request_id, result_id)`` reached the results topic."""
        pipe = self.client.pipeline(transaction=False)
        count = 0
        for request_id, result_id in results:
            await self._mark(keys=[self.record_key(request_id)], args=[result_id], client=pipe)
            count += 1
        if count:
            await pipe.execute()

    async def pending(self, limit: int = 100) -> list[Record]:
        """Requests awaiting approval, oldest first."""
        ids = cast("list[bytes]", await self.client.zrange(self.pending_key, 0, limit - 1))
        out = []
        for request_id in ids:
            found = await self.load(_text(request_id))
            if found is not None and found[0].state == AWAITING:
                out.append(found[0])
        return out

    async def pending_summary(self) -> tuple[int, int | None]:
        """How many requests await approval, and since when (epoch ms) the oldest has (None
        when none does)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.pending_key)
        pipe.zrange(self.pending_key, 0, 0, withscores=True)
        count, oldest = await pipe.execute()
        return int(count), (int(oldest[0][1]) if oldest else None)

    async def add_metrics(self, counts: Mapping[str, int]) -> None:
        """Add ``counts`` to the metrics hash."""
        if not counts:
            return
        pipe = self.client.pipeline(transaction=False)
        for name, value in counts.items():
            pipe.hincrby(self.metrics_key, name, value)
        await pipe.execute()

    async def metrics(self) -> dict[str, int]:
        """Every counter in the metrics hash."""
        fields = await self.client.hgetall(self.metrics_key)
        return {_text(k): int(v) for k, v in fields.items()}


def record_fields(record: Record, version: int, now_ms: int) -> dict[str, str]:
    """The hash fields of ``record`` at ``version`` (fields that are None are left out: no
    transition ever clears one)."""
    fields: dict[str, str] = {
        "request": orjson.dumps(record.request.doc).decode(),
        "state": record.state,
        "version": str(version),
        "attempt": str(record.attempt),
        "withdraw_attempt": str(record.withdraw_attempt),
        "updated_at": format_ts(now_ms),
    }
    optional = {
        "approved_by": record.approved_by,
        "rejected_by": record.rejected_by,
        "note": record.note,
        "decided_at": record.decided_at,
        "published": record.published,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    if record.result is not None:
        fields["result"] = orjson.dumps(record.result).decode()
        fields["result_id"] = str(record.result["result_id"])
    return fields


def record_from_fields(fields: Mapping[str, str]) -> tuple[Record, int]:
    """The record and version stored in ``fields`` (as written by ``record_fields``)."""
    state = fields["state"]
    if state not in STATES:
        raise ValueError(f"stored state {state!r} is not one of {list(STATES)}")
    result = fields.get("result")
    record = Record(
        request=request_from_dict(orjson.loads(fields["request"])),
        state=state,
        attempt=int(fields.get("attempt", "0")),
        withdraw_attempt=int(fields.get("withdraw_attempt", "0")),
        approved_by=fields.get("approved_by"),
        rejected_by=fields.get("rejected_by"),
        note=fields.get("note"),
        decided_at=fields.get("decided_at"),
        result=orjson.loads(result) if result else None,
        published=fields.get("published"),
    )
    return record, int(fields.get("version", "0"))


def _pending_score(record: Record, now_ms: int) -> str:
    return str(now_ms) if record.state == AWAITING else ""


def _flat(fields: Mapping[str, str]) -> list[Any]:
    return [item for pair in fields.items() for item in pair]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

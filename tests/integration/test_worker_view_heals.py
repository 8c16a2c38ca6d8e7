"""The Redis risk view heals: a Redis that lost its data gets every customer's view and the
counters back from the worker's state, and a write repeated after a timeout counts nothing twice.

"Redis came back empty" is simulated by deleting the keys of this test's prefix only (SCAN +
DEL): the shared Redis and other tests' keys are left alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamwatch import testing as build
from streamwatch.live import metrics
from streamwatch.live.metrics import Counters
from streamwatch.live.publisher import RedisPublisher
from streamwatch.live.redis_view import WORKER_TTL_S, RiskView

pytestmark = pytest.mark.integration

FLAGGED = [f"heal-{n:02d}" for n in range(86)]
"""Customers with an alert (a provider notice each): the risk view lists them."""
QUIET = [f"quiet-{n:02d}" for n in range(10)]
"""Customers with usage and no alert: not in the view, before or after."""
HEAL_S = 60.0


def events() -> list[dict[str, Any]]:
    notices = [
        build.provider_notice(customer_id=c, ts="2026-10-01T02:00:00Z", notice_id=f"N-{c}")
        for c in FLAGGED
    ]
    usage = [build.usage(c, ts="2026-10-01T01:00:00Z", cost=1.0) for c in QUIET]
    return [*usage, *notices]


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    """Poll ``await check()`` until it returns something truthy, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.25)


async def listed(view: RiskView) -> set[str]:
    """The customers with a view."""
    pipe = view.client.pipeline(transaction=False)
    for customer in FLAGGED + QUIET:
        pipe.exists(view.customer_key(customer))
    found = await pipe.execute()
    return {c for c, there in zip(FLAGGED + QUIET, found, strict=True) if there}


async def all_listed(view: RiskView) -> bool:
    return await listed(view) == set(FLAGGED) and await view.client.zcard(view.risk_key) == len(
        FLAGGED
    )


async def delete_prefix(client: Redis, prefix: str, only: str = "") -> int:
    """Delete this test's keys (those starting with ``prefix + only``); returns how many."""
    assert not set(prefix + only) & set("*?[]\\"), "the pattern must match the prefix only"
    keys = [key async for key in client.scan_iter(match=f"{prefix}{only}*", count=1000)]
    return int(await client.delete(*keys)) if keys else 0


async def test_view_and_counters_come_back_after_redis_lost_them(
    kafka, run_worker, risk_view, settings, cli
):
    stream = events()
    run_worker()
    await kafka.produce(stream)
    await kafka.wait_consumed()
    assert await wait_for(lambda: all_listed(risk_view), 30), await listed(risk_view)
    want = {metrics.EVENTS: len(stream), metrics.ALERTS: len(FLAGGED)}

    async def counted() -> dict[str, int] | None:
        counts = await risk_view.metrics()
        return counts if all(counts.get(k) == v for k, v in want.items()) else None

    assert await wait_for(counted, 30), await risk_view.metrics()

    # Redis comes back empty.
    assert await delete_prefix(risk_view.client, settings.redis_prefix) > len(FLAGGED)
    started = time.monotonic()
    assert await wait_for(lambda: all_listed(risk_view), HEAL_S), await listed(risk_view)
    assert time.monotonic() - started < HEAL_S
    # Totals, not increments: neither lost nor counted twice.
    assert await wait_for(counted, 10), await risk_view.metrics()
    top = await risk_view.top(len(FLAGGED) + len(QUIET))
    assert {row.customer_id for row in top.rows} == set(FLAGGED)
    view = await risk_view.customer(FLAGGED[0])
    assert view is not None
    assert [a["kind"] for a in view.alerts] == ["provider_notice"]

    # Customers lost without the markers: the worker cannot tell; the command asks it.
    assert await delete_prefix(risk_view.client, settings.redis_prefix, "customer:") == len(FLAGGED)
    asked = cli("risk", "--rebuild")
    assert asked.returncode == 0, asked.stderr
    assert "removed 1 worker marker" in asked.stdout
    assert await wait_for(lambda: all_listed(risk_view), HEAL_S), await listed(risk_view)
    assert await counted()

    shown = cli("risk", FLAGGED[-1])
    assert shown.returncode == 0, shown.stderr
    assert "open alerts  1" in shown.stdout
    assert cli("risk", QUIET[0]).returncode == 1


async def test_a_worker_started_on_an_empty_redis_writes_its_partitions_view(
    kafka, run_worker, risk_view, settings
):
    worker = run_worker()
    await kafka.produce(events())
    await kafka.wait_consumed()
    assert await wait_for(lambda: all_listed(risk_view), 30), await listed(risk_view)
    assert worker.stop() == 0

    await delete_prefix(risk_view.client, settings.redis_prefix)
    assert await listed(risk_view) == set()
    worker.restart()  # nothing new to process: the view comes from the recovered state
    assert await wait_for(lambda: all_listed(risk_view), HEAL_S), await listed(risk_view)


class ReplyLost:
    """A Redis client whose next pipeline is applied by Redis, then times out waiting for the
    reply: what a Redis that hangs after writing looks like to the worker."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.lose = 1

    def pipeline(self, transaction: bool = False) -> Any:
        pipe = self.client.pipeline(transaction=transaction)
        if self.lose:
            self.lose -= 1
            execute = pipe.execute

            async def applied_then_timed_out(*args: Any, **kwargs: Any) -> Any:
                await execute(*args, **kwargs)
                raise RedisTimeoutError("Timeout reading from socket")

            pipe.execute = applied_then_timed_out  # type: ignore[method-assign]
        return pipe

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def fields(customer: str, risk: float) -> dict[str, str]:
    return {
        "customer_id": customer,
        "risk": repr(risk),
        "open_alerts": "1",
        "alerts": "[]",
        "money_at_risk": "null",
        "updated_at": "2026-10-01T00:00:00Z",
    }


async def test_writes_repeated_after_a_timeout_count_nothing_twice(services, settings):
    client = Redis.from_url(services.redis)
    try:
        view = RiskView(client, settings.redis_prefix)
        hanging = RedisPublisher(
            RiskView(ReplyLost(client), settings.redis_prefix),  # type: ignore[arg-type]
            Counters(),
            worker="host-a:1",
        )
        other = RedisPublisher(RiskView(client, settings.redis_prefix), Counters(), worker="b:2")
        hanging.counters.inc(metrics.EVENTS, 100)
        hanging.counters.inc(metrics.ALERTS, 3)
        hanging.mark("c-1", fields("c-1", 0.5))
        assert await hanging.flush() is False  # written, but the worker cannot know
        assert await view.metrics() == {"events": 100, "alerts": 3}
        assert await hanging.flush() is True  # written again: the same totals
        assert await hanging.flush() is True
        other.counters.inc(metrics.EVENTS, 7)
        await other.flush()
        await other.flush()
        assert await view.metrics() == {"events": 107, "alerts": 3}
        assert await view.worker_metrics() == {
            "host-a:1": {"events": 100, "alerts": 3},
            "b:2": {"events": 7},
        }
        assert 0 < await client.ttl(view.metrics_key("b:2")) <= WORKER_TTL_S
        assert 0 < await client.ttl(view.marker_key("b:2")) <= WORKER_TTL_S
        assert await client.zscore(view.risk_key, "c-1") == 0.5
        assert (await view.customer("c-1")) is not None
        # The same view and totals written once more change nothing.
        hanging.mark("c-1", fields("c-1", 0.5))
        await hanging.flush()
        assert await view.metrics() == {"events": 107, "alerts": 3}
        assert await client.zcard(view.risk_key) == 1
        assert await view.ask_rebuild() == 2
    finally:
        await delete_prefix(client, settings.redis_prefix)
        await client.aclose()

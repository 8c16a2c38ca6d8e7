"""A worker killed with SIGKILL mid-stream and restarted loses no alert and repeats none."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fault_streams import budget_stream

from streamwatch.settings import INPUT_TOPICS

pytestmark = pytest.mark.integration

CUSTOMERS = 300
USAGE_PER_CUSTOMER = 20
NOTICES = 40
RATE = 250
"""Input events per second while the worker is being killed."""


class Progress:
    """How many input messages the worker's group has committed (one admin client)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.topics = {settings.topic(t) for t in INPUT_TOPICS}
        self.admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)

    async def __aenter__(self) -> Progress:
        await self.admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.admin.close()

    async def committed(self) -> int:
        offsets = await self.admin.list_consumer_group_offsets(self.settings.app_id)
        return sum(o.offset for tp, o in offsets.items() if tp.topic in self.topics)


async def test_sigkill_mid_stream_loses_and_repeats_no_alert(kafka, run_worker, expected, settings):
    budgets, stream = budget_stream("k", CUSTOMERS, USAGE_PER_CUSTOMER, NOTICES, seed=7)
    worker = run_worker()
    await kafka.produce(budgets)
    await kafka.wait_consumed()

    async def trickle() -> None:
        # A live stream: the worker is killed while events keep arriving.
        for i in range(0, len(stream), RATE // 10):
            await kafka.produce(stream[i : i + RATE // 10])
            await asyncio.sleep(0.1)

    producing = asyncio.create_task(trickle())
    kills = []
    async with Progress(settings) as progress:
        base = await progress.committed()
        for fraction in (0.2, 0.45):
            deadline = time.monotonic() + 120
            while (done := await progress.committed() - base) < fraction * len(stream):
                assert time.monotonic() < deadline, "worker made no progress"
                await asyncio.sleep(0.1)
            worker.kill()
            kills.append(done)
            worker.start()
    await producing
    # Each kill must land mid-stream, or the test proves nothing.
    assert all(0 < done < len(stream) for done in kills), kills

    await kafka.wait_consumed(timeout=120)
    want = expected([*budgets, *stream])
    alerts = [r.json() for r in await kafka.read_to_end("alerts")]
    seen = Counter((a["alert_id"], a["revision"]) for a in alerts)
    repeated = {k: n for k, n in seen.items() if n > 1}
    assert not repeated, f"{len(repeated)} alerts repeated"
    wanted = {(a.alert_id, a.revision) for a in want.alerts}
    assert len(wanted) > 500
    assert set(seen) - wanted == set(), "unexpected alerts"
    assert wanted - set(seen) == set(), f"{len(wanted - set(seen))} alerts lost"

    requests = Counter(r.json()["request_id"] for r in await kafka.read_to_end("enforcement"))
    assert max(requests.values()) == 1
    assert set(requests) == {r.request_id for r in want.requests}
    assert await kafka.read_to_end("dead-letter") == []

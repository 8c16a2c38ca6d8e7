"""Event time passing ages customers who send nothing: the worker sweeps every customer of a
partition when the partition's event time passes an hour mark, as replay sweeps the fleet."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.policy import parse_policy
from streamwatch.replay.runner import ListSink, Replay, Source
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration


def same_partition(count: int, partitions: int = 4) -> list[str]:
    """``count`` customer ids that a keyed producer puts on one partition."""
    place = DefaultPartitioner()
    ids = [f"cust-sweep-{n}" for n in range(200)]
    by = {c: place(c.encode(), list(range(partitions)), list(range(partitions))) for c in ids}
    first = by[ids[0]]
    return [c for c in ids if by[c] == first][:count]


def replayed(events: list[dict]) -> ListSink:
    sink = ListSink()
    core = build_core(parse_policy(DeploymentSettings().policy_text()))
    lines = [(orjson.dumps(e), n) for n, e in enumerate(events)]
    Replay(core, sink, clock=lambda: 0).run([Source(lines, lambda n: {"line": n})])
    return sink


async def test_a_quiet_debtor_reaches_its_dunning_stages_while_another_customer_speaks(
    kafka, run_worker
):
    debtor, busy = same_partition(2)
    events = [
        build.payment(
            "invoice.issued",
            customer_id=debtor,
            ts="2026-10-01T00:00:00Z",
            amount=400.0,
            invoice_id="INV-SWEEP-1",
            due_date="2026-10-10T00:00:00Z",
        )
    ]
    # Only the other customer speaks from here on: daily usage for the rest of the month.
    events += [
        build.usage(busy, cost=3.0, ts=f"2026-10-{day:02d}T06:00:00Z") for day in range(2, 32)
    ]
    want = replayed(events)
    stages = [a.evidence.get("stage") for a in want.alerts if a.customer_id == debtor]
    assert stages == ["reminder", "prepayment"], "replay ages the quiet debtor (the premise)"

    run_worker()
    await kafka.produce(events)
    await kafka.wait_consumed(timeout=120)
    deadline = time.monotonic() + 30
    while True:
        live = [r.json() for r in await kafka.read_to_end("alerts")]
        mine = [a for a in live if a["customer_id"] == debtor]
        if len(mine) >= len(stages) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert [(a["alert_id"], a["revision"]) for a in mine] == [
        (a.alert_id, a.revision) for a in want.alerts if a.customer_id == debtor
    ]
    assert [a["evidence"].get("stage") for a in mine] == stages
    assert mine[0]["event_time"] == "2026-10-11T00:00:00Z"

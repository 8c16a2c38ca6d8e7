"""Input that breaks the contract lands on the dead-letter topic; the worker carries on."""

from __future__ import annotations

import asyncio
import base64
import functools
import time
from typing import Any

import orjson
import pytest

from streamwatch import testing as build
from streamwatch.live import metrics

pytestmark = pytest.mark.integration

CUSTOMER = "cust-dlq"
KEY = CUSTOMER.encode()


def _without(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != name}


def bad_messages() -> list[tuple[str, str, str | None, bytes]]:
    """(id, expected code, expected field, raw bytes) of ten contract breaches."""
    good = build.usage(CUSTOMER, ts="2026-10-01T10:00:00Z", cost=1.0)
    nested: dict[str, Any] = functools.reduce(lambda inner, _: {"a": inner}, range(100), {})
    deep = build.activity("vm.create", CUSTOMER, properties=nested)
    huge = build.usage(CUSTOMER, cost=1.0, sku="x" * (2 * 1024 * 1024))
    return [
        ("truncated", "invalid_json", None, orjson.dumps(good)[:40]),
        ("non_object", "not_an_object", None, b"[1, 2, 3]"),
        ("wrong_type", "wrong_type", "cost", orjson.dumps({**good, "cost": "12.50"})),
        ("missing", "missing_field", "sku", orjson.dumps(_without(good, "sku"))),
        ("negative", "invalid_value", "cost", orjson.dumps({**good, "cost": -5.0})),
        ("unknown_type", "unknown_type", "type", orjson.dumps({**good, "type": "invoice"})),
        ("bad_ts", "invalid_timestamp", "ts", orjson.dumps({**good, "ts": "yesterday noon"})),
        ("utf8", "invalid_utf8", None, b'{"event_id": "\xff\xfe", "type": "usage"}'),
        ("huge", "too_large", None, orjson.dumps(huge)),
        ("deep", "too_deep", "properties", orjson.dumps(deep)),
    ]


async def test_bad_messages_are_dead_lettered_with_reason_and_bytes(kafka, run_worker, risk_view):
    budget = build.budget_set(100.0, customer_id=CUSTOMER, ts="2026-10-01T00:00:00Z")
    good = [
        build.usage(CUSTOMER, ts=f"2026-10-01T{hour:02d}:00:00Z", cost=cost)
        for hour, cost in [(1, 30.0), (2, 30.0), (3, 30.0), (4, 5.0)]
    ]
    bad = bad_messages()
    assert len(bad[8][3]) > 2 * 1024 * 1024
    run_worker()
    await kafka.produce([budget])
    await kafka.wait_consumed()
    # Interleaved on one partition: bad, good, bad, bad, good, ... (the deep one on activity).
    stream: list[Any] = []
    goods = iter(good)
    for i, (_, _, _, raw) in enumerate(bad):
        topic = "activity" if i == len(bad) - 1 else "usage"
        stream.append((topic, KEY, raw))
        if i % 3 == 0:
            stream.append(next(goods))
    await kafka.produce(stream)
    await kafka.wait_consumed(timeout=90)

    records = await kafka.read_to_end("dead-letter")
    assert len(records) == len(bad)
    by_original = {base64.b64decode(r.json()["original_b64"]): r.json() for r in records}
    for name, code, field, raw in bad:
        record = by_original.get(raw)
        assert record is not None, f"{name} not dead-lettered with its original bytes"
        assert (record["code"], record["field"]) == (code, field), name
        assert record["reason"].startswith(f"{code}: "), name
        assert record["original_size"] == len(raw)
        assert record["source"]["topic"].endswith(("usage", "activity"))
        assert record["source"]["key"] == CUSTOMER
        assert {"partition", "offset"} <= set(record["source"])
    assert all(r.key == KEY for r in records)

    alerts = [r.json() for r in await kafka.read_to_end("alerts")]
    assert sorted(a["evidence"]["threshold"] for a in alerts) == ["50%", "80%"]

    deadline = time.monotonic() + 30
    counts = await risk_view.metrics()
    while counts.get(metrics.DEAD_LETTER) != len(bad) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        counts = await risk_view.metrics()
    assert counts[metrics.DEAD_LETTER] == 10
    for _, code, _, _ in bad:
        assert counts[metrics.dead_letter_code(code)] >= 1
    assert counts[metrics.EVENTS] == 5


def _with_cost(doc: dict[str, Any], cost: bytes) -> bytes:
    """``doc`` as JSON with ``cost`` written as given (orjson will not write 2**70 itself)."""
    return orjson.dumps({**doc, "cost": 0}).replace(b'"cost":0', b'"cost":' + cost)


def hostile_messages() -> list[tuple[str, str, str, bytes]]:
    """(id, expected code, expected field, raw bytes) of valid-looking events that used to stop
    or mislead a partition: money the core cannot sum, and dates it cannot or must not use."""
    good = build.usage(CUSTOMER, ts="2026-10-01T10:00:00Z", cost=1.0)
    payment = build.payment("prepayment", CUSTOMER, ts="2026-10-01T10:30:00Z", amount=1.0)
    return [
        ("cost_2_70", "out_of_range", "cost", _with_cost(good, str(2**70).encode())),
        ("cost_1e308", "out_of_range", "cost", orjson.dumps({**good, "cost": 1.7e308})),
        ("cost_9e12", "out_of_range", "cost", orjson.dumps({**good, "cost": 9.3e12})),
        ("amount", "out_of_range", "amount", orjson.dumps({**payment, "amount": 1e300})),
        (
            "year_9999",
            "invalid_timestamp",
            "ts",
            orjson.dumps({**good, "ts": "9999-12-29T00:00:00Z"}),
        ),
        ("year_2030", "future_event", "ts", orjson.dumps({**good, "ts": "2030-06-01T00:00:00Z"})),
    ]


async def test_hostile_events_are_dead_lettered_and_survive_restarts(kafka, run_worker, risk_view):
    """Each hostile event is dead-lettered with a reason, the good events around it still
    alert, and the worker runs on across restarts without sending anything twice."""
    budget = build.budget_set(100.0, customer_id=CUSTOMER, ts="2026-10-01T00:00:00Z")
    good = [
        build.usage(CUSTOMER, ts=f"2026-10-01T{hour:02d}:00:00Z", cost=cost)
        for hour, cost in [(1, 30.0), (2, 30.0), (3, 30.0), (11, 5.0), (12, 5.0)]
    ]
    hostile = hostile_messages()
    worker = run_worker()
    stream: list[Any] = [budget, *good[:3]]
    for _, _, field, raw in hostile:
        stream.append(("payments" if field == "amount" else "usage", KEY, raw))
    stream.extend(good[3:])
    await kafka.produce(stream)
    await kafka.wait_consumed(timeout=90)
    for _ in range(2):
        worker.restart()
        assert worker.running
        await kafka.produce([build.usage(CUSTOMER, ts="2026-10-01T13:00:00Z", cost=0.1)])
        await kafka.wait_consumed(timeout=90)
        assert worker.running, "the worker stopped after a restart"

    records = [r.json() for r in await kafka.read_to_end("dead-letter")]
    by_original = {base64.b64decode(r["original_b64"]): r for r in records}
    assert len(records) == len(hostile), "each dead-lettered once, restarts included"
    for name, code, field, raw in hostile:
        record = by_original.get(raw)
        assert record is not None, f"{name} not dead-lettered"
        assert (record["code"], record["field"]) == (code, field), name
        assert len(record["reason"]) > len(code) + 10, name
    alerts = [r.json() for r in await kafka.read_to_end("alerts")]
    # 100.2 of 100 spent: the events after the hostile ones and across restarts still count.
    assert sorted(a["evidence"]["threshold"] for a in alerts) == ["100%", "50%", "80%"]
    assert len({(a["alert_id"], a["revision"]) for a in alerts}) == len(alerts)

"""Live and replay agree: the golden streams give the same alerts through the worker over the
real broker, through ``streamwatch replay --from-kafka``, and through file replay (the stored
expectation, see tests/golden/streams.py)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

from golden.streams import STREAMS, load_expected
from streamwatch.core.codec import DecodeError, decode_event
from streamwatch.core.timeutil import format_ts

pytestmark = pytest.mark.integration

TOPIC_OF_TYPE = {"usage": "usage", "activity": "activity", "payment": "payments"}


def as_messages(lines: list[bytes]) -> list[tuple[str, bytes | None, bytes]]:
    """Each line to the topic of its type, keyed by its customer; a line that is not a contract
    event goes to the usage topic as it is (it must be dead-lettered, not lost)."""
    out = []
    for line in lines:
        try:
            doc: Any = orjson.loads(line)
            topic = TOPIC_OF_TYPE[doc["type"]]
            key = str(doc["customer_id"]).encode()
        except (orjson.JSONDecodeError, KeyError, TypeError):
            topic, key = "usage", None
        out.append((topic, key, line))
    return out


def decodes(line: bytes) -> bool:
    try:
        decode_event(line)
    except DecodeError:
        return False
    return True


def identity(alerts: Iterable[dict[str, Any]]) -> set[tuple[str, int, str, str, str]]:
    """What must be equal live and in replay: which incidents, of whom, which revision, at
    which event time (the worker merges its three input topics by event time, as replay does:
    a budget.set read before the usage it follows would move the crossing's event_time)."""
    return {
        (a["alert_id"], a["revision"], a["customer_id"], a["kind"], a["event_time"]) for a in alerts
    }


@pytest.mark.parametrize("name", sorted(STREAMS))
async def test_worker_and_replay_give_the_golden_alerts(name, kafka, run_worker, cli, tmp_path):
    lines = STREAMS[name]()
    expected = load_expected(name)
    started = format_ts(time.time_ns() // 1_000_000 - 1000)
    run_worker()
    await kafka.produce(as_messages(lines))
    await kafka.wait_consumed(timeout=240)

    live = [r.json() for r in await kafka.read_to_end("alerts")]
    assert len(live) == len(identity(live)), "the worker repeated an alert"
    assert identity(live) == identity(expected)
    dead = await kafka.read_to_end("dead-letter")
    assert len(dead) == sum(1 for line in lines if not decodes(line))

    out = tmp_path / "from-kafka.jsonl"
    ended = format_ts(time.time_ns() // 1_000_000 + 1000)
    done = cli("replay", "--from-kafka", "--start", started, "--end", ended, "--alerts", str(out))
    assert done.returncode == 0, done.stderr
    replayed = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert identity(replayed) == identity(expected)


async def test_replay_from_kafka_keeps_one_customer_and_the_time_range(kafka, cli, tmp_path):
    lines = STREAMS["cross-topic-edges"]()
    before = format_ts(time.time_ns() // 1_000_000 - 1000)
    await kafka.produce(as_messages(lines))
    after = format_ts(time.time_ns() // 1_000_000 + 1000)
    expected = load_expected("cross-topic-edges")

    one = tmp_path / "one.jsonl"
    done = cli(
        "replay", "--from-kafka", "--start", before, "--end", after, "--customer",
        "cust-edge-2", "--alerts", str(one),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = [orjson.loads(line) for line in one.read_bytes().splitlines()]
    assert identity(got) == identity(a for a in expected if a["customer_id"] == "cust-edge-2")

    empty = tmp_path / "empty.jsonl"
    done = cli(
        "replay", "--from-kafka", "--start", after, "--end", format_ts(
            time.time_ns() // 1_000_000 + 60_000
        ), "--alerts", str(empty),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(empty).read_bytes() == b"", "records appended before --start are not replayed"

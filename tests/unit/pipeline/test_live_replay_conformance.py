"""Live and replay give the same decisions for the same input, by construction.

One suite, parametrised over the runners: replay (``streamwatch.replay.runner``) and the live
worker's processing without a broker (``streamwatch.testing.simulate_live``: random delivery
interleavings, chunk and batch sizes, commits, and crashes that lose everything uncommitted).
Every golden stream, and variants of them with disorder inside a topic, usage delivered late
(within the allowed lateness) and redelivered duplicates, must give identical alert ids,
revisions, event times, enforcement requests and dead letters. The real-broker test
(tests/integration/test_conformance.py) stays as the end-to-end check.
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Callable
from functools import cache
from random import Random
from typing import Any

import orjson
import pytest

from golden.streams import STREAMS, load_expected
from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.timeutil import MS_PER_HOUR, parse_ts_ms
from streamwatch.pipeline.routing import partition_for
from streamwatch.replay.runner import ListSink, Replay, Source
from streamwatch.testing import FakeClock, simulate_live

Outputs = dict[str, Any]


def _alert_keys(alerts: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (a.alert_id, a.revision, a.customer_id, a.kind, a.severity, a.event_time) for a in alerts
    )


def _request_keys(requests: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (r.request_id, r.customer_id, r.action, r.policy, r.alert_ids, r.requires_approval)
        for r in requests
    )


def replay(lines: list[bytes]) -> Outputs:
    sink = ListSink()
    stats = Replay(build_core(), sink, clock=FakeClock()).run(
        [Source(((line, n) for n, line in enumerate(lines, 1)), lambda n: {"line": n})]
    )
    return {
        "alerts": _alert_keys(sink.alerts),
        "requests": _request_keys(sink.requests),
        "dead": Counter(d["code"] for d in sink.dead_letters),
        "suppressed": stats.suppressed,
    }


def live(seed: int, crashes: int) -> Callable[[list[bytes]], Outputs]:
    def run(lines: list[bytes]) -> Outputs:
        out = simulate_live(build_core(), lines, seed=seed, crashes=crashes)
        return {
            "alerts": _alert_keys(out.alerts),
            "requests": _request_keys(out.requests),
            "dead": Counter(d["code"] for d in out.dead_letters),
            "suppressed": len(out.suppressed),
        }

    return run


RUNNERS: dict[str, Callable[[list[bytes]], Outputs]] = {
    "replay": replay,
    "live": live(seed=1, crashes=0),
    "live-other-order": live(seed=2, crashes=0),
    "live-3-crashes": live(seed=3, crashes=3),
}


def _doc(line: bytes) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("ts"), str):
        return None
    try:
        doc["_ts_ms"] = parse_ts_ms(doc["ts"])
    except ValueError:
        return None
    return doc


def disorder_within_topic(lines: list[bytes], seed: int) -> list[bytes]:
    """Swap neighbouring usage events (less than an hour apart) of one topic: the producer
    delivered them out of order."""
    rng = Random(seed)
    out = list(lines)
    usage = [i for i, line in enumerate(out) if (d := _doc(line)) and d.get("type") == "usage"]
    for a, b in itertools.pairwise(usage):
        da, db = _doc(out[a]), _doc(out[b])
        assert da is not None
        assert db is not None
        if abs(db["_ts_ms"] - da["_ts_ms"]) < MS_PER_HOUR and rng.random() < 0.3:
            out[a], out[b] = out[b], out[a]
    return out


def late_usage(lines: list[bytes], seed: int, lateness_ms: int = MS_PER_HOUR) -> list[bytes]:
    """Move some usage events later in the stream, past events up to ``lateness_ms`` newer:
    billing data that arrives after data for later hours."""
    rng = Random(seed)
    out = list(lines)
    i = 0
    while i < len(out):
        doc = _doc(out[i])
        if doc is not None and doc.get("type") == "usage" and rng.random() < 0.1:
            j = i
            while j + 1 < len(out):
                nxt = _doc(out[j + 1])
                if nxt is not None and nxt["_ts_ms"] > doc["_ts_ms"] + lateness_ms:
                    break
                j += 1
            out.insert(j, out.pop(i))
        i += 1
    return out


def redelivered(lines: list[bytes], seed: int) -> list[bytes]:
    """Repeat some lines a little later: a producer's retries."""
    rng = Random(seed)
    out: list[bytes] = []
    for n, line in enumerate(lines):
        out.append(line)
        if rng.random() < 0.05 and n >= 3:
            out.append(lines[n - rng.randint(1, 3)])
    return out


VARIANTS: dict[str, Callable[[list[bytes], int], list[bytes]]] = {
    "as-is": lambda lines, _seed: lines,
    "disorder-within-topic": disorder_within_topic,
    "late-usage": late_usage,
    "redelivered": redelivered,
}


@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_every_runner_gives_the_golden_alerts(runner: str, name: str) -> None:
    expected = load_expected(name)
    got = RUNNERS[runner](STREAMS[name]())["alerts"]
    assert [(a[0], a[1], a[2], a[3], a[5]) for a in got] == [
        (e["alert_id"], e["revision"], e["customer_id"], e["kind"], e["event_time"])
        for e in expected
    ]


@cache
def _disordered(variant: str, name: str) -> tuple[tuple[bytes, ...], Outputs]:
    """Stream ``name`` in ``variant`` and what replay makes of it: the same for each of the
    three live runners it is compared with, so built and replayed once rather than three
    times."""
    lines = VARIANTS[variant](STREAMS[name](), 7)
    return tuple(lines), replay(lines)


@pytest.mark.parametrize("runner", sorted(set(RUNNERS) - {"replay"}))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_live_equals_replay_on_disordered_delivery(runner: str, variant: str, name: str) -> None:
    shared_lines, shared_expected = _disordered(variant, name)
    lines, expected = list(shared_lines), copy.deepcopy(shared_expected)
    assert expected["alerts"], "a stream without alerts proves nothing"
    assert RUNNERS[runner](lines) == expected


def test_the_variants_really_disorder_the_streams() -> None:
    lines = STREAMS["generated-mixed"]()
    for variant in ("disorder-within-topic", "late-usage", "redelivered"):
        changed = VARIANTS[variant](lines, 7)
        assert changed != lines, variant
        assert sorted(set(changed)) == sorted(set(lines)), variant


def test_feedback_holds_back_the_same_alerts_live_and_in_replay() -> None:
    """The feedback stream: three alerts held back (two suppressed, one of a pattern called no
    anomaly), the bad suppression dead-lettered, the redelivered one processed once."""
    outputs = {name: run(STREAMS["feedback"]()) for name, run in RUNNERS.items()}
    assert outputs["replay"]["suppressed"] == 3
    assert outputs["replay"]["dead"] == Counter({"invalid_value": 1})
    assert all(o == outputs["replay"] for o in outputs.values())


def test_a_usage_event_out_of_order_within_its_topic_gives_one_answer() -> None:
    """The case that split live from replay: one usage event an hour out of order inside the
    usage topic (replay used to sort it back, live kept offset order)."""
    lines = late_usage(STREAMS["generated-mixed"](), 3)
    outputs = {name: run(lines) for name, run in RUNNERS.items()}
    assert len({orjson.dumps(o, option=orjson.OPT_SORT_KEYS) for o in outputs.values()}) == 1


def _ring_stream() -> list[bytes]:
    """Eight accounts behind one device, signed up ten minutes apart, spread over every
    partition, each then running usage for a day: a backlog whose partitions are delivered in
    random interleavings, so that the sign-ups reach the ring agent out of time order."""
    docs = []
    for n in range(8):
        customer = f"ring-{n}"
        props = {
            "device_fingerprint": "dev-shared",
            "email_domain": "yopmail.com",
            "phone_verified": False,
            "country": "NL",
            "ip_country": "NL",
        }
        at = f"2026-10-01T0{n // 6}:{n % 6}0:00Z"
        docs.append(
            build.activity("customer.signup", customer, at, props, event_id=f"{customer}-s")
        )
        for hour in range(1 + n * 3):
            docs.append(build.usage(customer, f"2026-10-01T{2 + hour % 20:02d}:30:00Z", cost=0.5))
    return [orjson.dumps(doc) for doc in docs]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_ring_across_partitions_forms_alike_whatever_order_the_partitions_deliver(
    seed: int,
) -> None:
    lines = _ring_stream()
    expected = replay(lines)
    ring_alerts = {a[2] for a in expected["alerts"] if a[3] == "bot_signup"}
    assert ring_alerts == {f"ring-{n}" for n in range(8)}
    partitions = {partition_for(f"ring-{n}".encode(), 4) for n in range(8)}
    assert len(partitions) >= 3, "the ring must span partitions"
    assert live(seed=seed, crashes=seed % 3)(lines) == expected

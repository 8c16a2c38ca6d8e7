"""One event stamped far in the future (or the past) changes nothing for other customers, live
and in replay: it cannot move a partition's event time, so sweeps do not age anyone to it."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from functools import cache
from typing import Any

import orjson
import pytest

from golden.streams import STREAMS
from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.core.codec import DecodeError
from streamwatch.pipeline.partition import decode
from streamwatch.pipeline.routing import DEFAULT_PARTITIONS, partition_for
from streamwatch.replay.runner import ListSink, Replay, ReplayStats, Source
from streamwatch.testing import FakeClock, simulate_live

CUSTOMER = "cust-outlier"


Outputs = tuple[list[Any], list[Any], list[dict[str, Any]]]


def _run_replay(lines: list[bytes]) -> Outputs:
    sink = ListSink()
    Replay(build_core(), sink, clock=FakeClock()).run(
        [Source(((line, n) for n, line in enumerate(lines, 1)), lambda n: {"line": n})]
    )
    return sink.alerts, sink.requests, sink.dead_letters


def _run_replay_by_topic(lines: list[bytes]) -> Outputs:
    return _replay_by_topic(lines)[0]


def _replay_by_topic(lines: list[bytes]) -> tuple[Outputs, ReplayStats]:
    """Replay as from Kafka: one source per topic partition, each in its own order."""
    sources: dict[tuple[str, int], list[bytes]] = defaultdict(list)
    for line in lines:
        decoded = decode(line)
        if isinstance(decoded, DecodeError):
            sources["usage", 0].append(line)
        else:
            partition = partition_for(decoded.customer_id.encode(), DEFAULT_PARTITIONS)
            sources[decoded.type, partition].append(line)
    sink = ListSink()
    stats = Replay(build_core(), sink, clock=FakeClock()).run(
        [
            Source(((line, n) for n, line in enumerate(part, 1)), lambda n: {"line": n})
            for _, part in sorted(sources.items())
        ]
    )
    return (sink.alerts, sink.requests, sink.dead_letters), stats


def _run_live(lines: list[bytes]) -> Outputs:
    out = simulate_live(build_core(), lines, seed=5, crashes=1)
    return out.alerts, out.requests, out.dead_letters


RUNNERS = {"replay": _run_replay, "replay-by-topic": _run_replay_by_topic, "live": _run_live}


def _outputs(alerts: list[Any], requests: list[Any]) -> tuple[list[Any], list[Any]]:
    return (
        sorted((a.alert_id, a.revision, a.event_time) for a in alerts),
        sorted((r.request_id, r.action) for r in requests),
    )


@cache
def _base_by_topic() -> tuple[Outputs, ReplayStats]:
    return _replay_by_topic(STREAMS["generated-mixed"]())


@cache
def _base_run(runner: str) -> Outputs:
    """``runner``'s outputs for the golden mixed stream as it is: the same in every test (a
    fresh core, a fixed clock and seed), so run once per runner rather than once per test."""
    if runner == "replay-by-topic":
        return _base_by_topic()[0]
    return RUNNERS[runner](STREAMS["generated-mixed"]())


def _with_and_without(runner: str, doc: dict[str, Any]) -> tuple[Outputs, Outputs]:
    """``runner``'s outputs for the golden mixed stream, then for it with ``doc`` inserted in
    the middle. The first are shared between tests: each gets its own copies (the alerts and
    requests themselves are frozen)."""
    run = RUNNERS[runner]
    base = STREAMS["generated-mixed"]()
    middle = len(base) // 2
    alerts, requests, dead = _base_run(runner)
    return (list(alerts), list(requests), copy.deepcopy(dead)), run(
        [*base[:middle], orjson.dumps(doc), *base[middle:]]
    )


@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize("ts", ["2030-06-01T00:00:00Z", "9998-12-29T00:00:00Z"])
def test_a_future_event_is_held_aside_and_changes_nothing(runner: str, ts: str) -> None:
    outlier = build.usage(CUSTOMER, ts=ts, cost=1.0, event_id="outlier-1")
    (alerts, requests, dead), (alerts2, requests2, dead2) = _with_and_without(runner, outlier)
    assert _outputs(alerts2, requests2) == _outputs(alerts, requests)
    futures = [d for d in dead2 if d["code"] == "future_event"]
    assert len(futures) == 1
    assert futures[0]["original_b64"]
    assert "ahead of its stream" in futures[0]["reason"]
    assert Counter(d["code"] for d in dead2) - Counter(d["code"] for d in dead) == Counter(
        {"future_event": 1}
    )


def test_a_future_event_holds_back_no_source_of_a_replay_from_kafka() -> None:
    """Each topic partition is a source of its own: the outlier must neither hold the rest of
    its source back until the end (all of it late) nor make quiet streams look caught up."""
    base = STREAMS["generated-mixed"]()
    middle = len(base) // 2
    outlier = build.usage(CUSTOMER, ts="2030-06-01T00:00:00Z", cost=1.0, event_id="outlier-1")
    stats = copy.deepcopy(_base_by_topic()[1])
    _, stats2 = _replay_by_topic([*base[:middle], orjson.dumps(outlier), *base[middle:]])
    assert stats2.late == stats.late
    assert stats2.dead_letters - stats.dead_letters == Counter({"future_event": 1})


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_an_event_past_the_contract_s_last_day_is_refused_and_changes_nothing(runner: str) -> None:
    late = build.usage(CUSTOMER, ts="9999-12-29T00:00:00Z", event_id="y9999")
    (alerts, requests, dead), (alerts2, requests2, dead2) = _with_and_without(runner, late)
    assert _outputs(alerts2, requests2) == _outputs(alerts, requests)
    assert Counter(d["code"] for d in dead2) - Counter(d["code"] for d in dead) == Counter(
        {"invalid_timestamp": 1}
    )


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_an_event_from_1970_changes_nothing_for_other_customers(runner: str) -> None:
    old = build.usage(CUSTOMER, ts="1970-01-01T00:00:00Z", event_id="old-1")
    (alerts, requests, dead), (alerts2, requests2, dead2) = _with_and_without(runner, old)
    others = [a for a in alerts2 if a.customer_id != CUSTOMER]
    assert _outputs(others, requests2) == _outputs(alerts, requests)
    assert len(dead2) == len(dead)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_a_stream_that_really_jumps_ahead_is_followed(runner: str) -> None:
    """Monthly invoices, or a partition quiet for a week: the stream moves on, and so does the
    partition; nothing is held aside."""
    lines = [
        orjson.dumps(build.budget_set(100.0, customer_id=CUSTOMER, ts="2026-10-01T00:00:00Z")),
        orjson.dumps(build.usage(CUSTOMER, ts="2026-10-01T01:00:00Z", cost=10.0)),
        orjson.dumps(build.usage(CUSTOMER, ts="2026-10-09T01:00:00Z", cost=50.0)),
        orjson.dumps(build.usage(CUSTOMER, ts="2026-10-09T02:00:00Z", cost=1.0)),
        orjson.dumps(build.usage(CUSTOMER, ts="2026-10-20T02:00:00Z", cost=30.0)),
    ]
    alerts, _requests, dead = RUNNERS[runner](lines)
    assert dead == []
    budget = sorted(
        (a.evidence.get("threshold"), a.event_time) for a in alerts if a.kind == "budget_threshold"
    )
    assert [t for _, t in budget][:2] == ["2026-10-09T01:00:00Z", "2026-10-20T02:00:00Z"]

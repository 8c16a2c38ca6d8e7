"""Budget labels are exactly the crossings of the budget rule over the emitted events.

``recompute_crossings`` below is a deliberately plain re-reading of the rule (DESIGN.md, the
generator brief, money in whole micro-units as the detector counts it), written without the
generator's code: events in (ts, event_id) order, repeats of an event_id skipped, month keys
from the ts text, month lengths from ``calendar``.
"""

from __future__ import annotations

import calendar
import functools
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from streamwatch.generator import (
    BudgetRule,
    Collector,
    GenerationResult,
    GeneratorConfig,
    generate,
    iter_records,
)
from streamwatch.generator.stream import build_plans

Crossing = tuple[str, str, str, str]
"""(customer_id, ts, threshold, month)"""


def epoch_ms(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp()) * 1000


def month_bounds_ms(month: str) -> tuple[int, int]:
    year, mon = int(month[:4]), int(month[5:7])
    start = calendar.timegm((year, mon, 1, 0, 0, 0)) * 1000
    return start, start + calendar.monthrange(year, mon)[1] * 86_400_000


def micros(value: float) -> int:
    return round(value * 1_000_000)


def recompute_crossings(events: list[dict[str, Any]]) -> list[Crossing]:
    out: list[Crossing] = []
    seen: set[str] = set()
    budget: dict[str, tuple[int, str]] = {}
    spend: dict[tuple[str, str, str], int] = defaultdict(int)
    crossed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in sorted(events, key=lambda e: (e["ts"], e["event_id"])):
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        cid, month = e["customer_id"], e["ts"][:7]
        done = crossed[(cid, month)]
        if e["type"] == "activity" and e["operation"] == "budget.set":
            if e["status"] != "succeeded":
                continue
            budget[cid] = (micros(e["properties"]["amount"]), e["properties"]["currency"])
            amount, currency = budget[cid]
            for name, pct in (("50%", 50), ("80%", 80), ("100%", 100)):
                if name not in done and spend[(cid, month, currency)] * 100 >= amount * pct:
                    done.add(name)
                    out.append((cid, e["ts"], name, month))
        elif e["type"] == "usage":
            spend[(cid, month, e["currency"])] += micros(e["cost"])
            if cid not in budget or budget[cid][1] != e["currency"]:
                continue
            amount, currency = budget[cid]
            total = spend[(cid, month, currency)]
            for name, pct in (("50%", 50), ("80%", 80), ("100%", 100)):
                if name not in done and total * 100 >= amount * pct:
                    done.add(name)
                    out.append((cid, e["ts"], name, month))
            start_ms, end_ms = month_bounds_ms(month)
            now_ms = epoch_ms(e["ts"])
            if (
                "forecast" not in done
                and "100%" not in done
                and now_ms - start_ms >= 3 * 86_400_000
                and total * (end_ms - start_ms) > amount * (now_ms - start_ms)
            ):
                done.add("forecast")
                out.append((cid, e["ts"], "forecast", month))
    return out


@functools.lru_cache(maxsize=8)
def generated(cfg: GeneratorConfig) -> GenerationResult:
    return generate(cfg)


def label_crossings(labels: list[dict[str, Any]]) -> list[Crossing]:
    return [
        (lab["customer_id"], lab["start"], lab["detail"]["threshold"], lab["detail"]["month"])
        for lab in labels
        if lab["kind"] == "budget_threshold"
    ]


CONFIGS = [
    pytest.param(GeneratorConfig(seed=1, customers=40, days=30), id="one-month"),
    pytest.param(
        GeneratorConfig(seed=2, customers=40, days=75, start="2026-10-20T13:30:00Z"),
        id="three-months-from-mid-month",
    ),
    pytest.param(
        GeneratorConfig(
            seed=3, customers=30, days=40, incident_rate=0.6, duplicate_rate=0.05, bad_rate=0.01
        ),
        id="many-incidents-with-duplicates-and-bad-lines",
    ),
    pytest.param(
        GeneratorConfig(
            seed=4,
            customers=30,
            days=12,
            start="2026-12-25T00:00:00Z",
            incidents=("budget_overrun",),
            incident_rate=0.5,
        ),
        id="across-new-year",
    ),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_budget_labels_equal_an_independent_recomputation(cfg: GeneratorConfig) -> None:
    result = generated(cfg)
    expected = recompute_crossings(result.events)
    got = label_crossings(result.labels)
    assert sorted(got) == sorted(expected)
    assert len(got) == len(set(got))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_budget_label_start_and_end_are_the_crossing_event_ts(cfg: GeneratorConfig) -> None:
    result = generated(cfg)
    stamps = {
        (e["customer_id"], e["ts"])
        for e in result.events
        if e["type"] == "usage" or e.get("operation") == "budget.set"
    }
    for lab in result.labels:
        if lab["kind"] == "budget_threshold":
            assert lab["start"] == lab["end"]
            assert (lab["customer_id"], lab["start"]) in stamps
            assert lab["benign"] is False


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_budget_overrun_customer_crosses_its_budget(seed: int) -> None:
    cfg = GeneratorConfig(
        seed=seed, customers=30, days=30, incidents=("budget_overrun",), incident_rate=0.3
    )
    overrun = {p.customer_id for p in build_plans(cfg) if p.scenarios}
    labelled = {
        lab["customer_id"]: lab["scenario"]
        for lab in generate(cfg).labels
        if lab["kind"] == "budget_threshold"
    }
    assert len(overrun) == 9
    assert set(labelled) == overrun
    assert set(labelled.values()) == {"budget_overrun"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_normal_customers_get_no_budget_labels_over_half_a_year(seed: int) -> None:
    cfg = GeneratorConfig(seed=seed, customers=15, days=180, incidents=("provider_notice",))
    col = Collector()
    for _ in iter_records(cfg, col):
        pass
    assert [lab for lab in col.labels() if lab["kind"] == "budget_threshold"] == []


# The rule itself, table-driven: (events, expected crossings). Events are
# ("usage", day, hour, cost, currency) or ("budget", day, hour, amount, currency),
# all in October 2026 (31 days) unless day > 31, which rolls into November.
T = tuple[str, int, int, float, str]


def _run(events: list[T]) -> list[tuple[int, int, str]]:
    rule = BudgetRule()
    out: list[tuple[int, int, str]] = []
    base = calendar.timegm((2026, 10, 1, 0, 0, 0))
    for kind, day, hour, value, currency in events:
        ts = base + (day - 1) * 86_400 + hour * 3600
        names = (
            rule.on_usage(ts, round(value * 1_000_000), currency)
            if kind == "usage"
            else rule.on_budget_set(ts, value, currency)
        )
        out.extend((day, hour, name) for name in names)
    return out


RULE_CASES = [
    pytest.param(
        [
            ("budget", 1, 0, 100.0, "USD"),
            ("usage", 1, 1, 50.0, "USD"),
            ("usage", 1, 2, 30.0, "USD"),
            ("usage", 1, 3, 20.0, "USD"),
        ],
        [(1, 1, "50%"), (1, 2, "80%"), (1, 3, "100%")],
        id="each-threshold-at-the-usage-that-reaches-it",
    ),
    pytest.param(
        [("budget", 1, 0, 1.0, "USD")] + [("usage", 1, h, 0.1, "USD") for h in range(1, 11)],
        [(1, 5, "50%"), (1, 8, "80%"), (1, 10, "100%")],
        id="ten-dimes-reach-a-dollar-exactly",
    ),
    pytest.param(
        [("budget", 1, 0, 100.0, "USD"), ("usage", 1, 1, 120.0, "USD")],
        [(1, 1, "50%"), (1, 1, "80%"), (1, 1, "100%")],
        id="one-event-crosses-all-three-in-order",
    ),
    pytest.param(
        [("usage", 1, 1, 85.0, "USD"), ("budget", 2, 0, 100.0, "USD"), ("usage", 2, 1, 1.0, "USD")],
        [(2, 0, "50%"), (2, 0, "80%")],
        id="budget-set-after-the-spend-crosses-at-its-own-ts",
    ),
    pytest.param(
        [("budget", 1, 0, 100.0, "USD"), ("usage", 1, 1, 60.0, "EUR")],
        [],
        id="other-currency-does-not-count",
    ),
    pytest.param(
        [
            ("budget", 1, 0, 100.0, "USD"),
            ("usage", 3, 23, 20.0, "USD"),
            ("usage", 4, 0, 0.0, "USD"),
        ],
        [(4, 0, "forecast")],
        id="forecast-waits-three-days-into-the-month",
    ),
    pytest.param(
        [
            ("budget", 1, 0, 100.0, "USD"),
            ("usage", 4, 0, 110.0, "USD"),
            ("usage", 5, 0, 1.0, "USD"),
        ],
        [(4, 0, "50%"), (4, 0, "80%"), (4, 0, "100%")],
        id="no-forecast-once-100-percent-is-reached",
    ),
    pytest.param(
        [
            ("budget", 1, 0, 100.0, "USD"),
            ("usage", 4, 0, 60.0, "USD"),
            ("usage", 32, 0, 60.0, "USD"),
        ],
        [(4, 0, "50%"), (4, 0, "forecast"), (32, 0, "50%")],
        id="a-new-month-starts-from-zero",
    ),
    pytest.param(
        [
            ("budget", 1, 0, 100.0, "USD"),
            ("usage", 1, 1, 60.0, "USD"),
            ("budget", 1, 2, 50.0, "USD"),
        ],
        [(1, 1, "50%"), (1, 2, "80%"), (1, 2, "100%")],
        id="a-lower-budget-replaces-the-old-one",
    ),
]


@pytest.mark.parametrize(("events", "expected"), RULE_CASES)
def test_budget_rule(events: list[T], expected: list[tuple[int, int, str]]) -> None:
    assert _run(events) == expected

"""The in-order against arrival-order table: its rows, differences, limit marks and counts."""

from __future__ import annotations

import dataclasses
from typing import Any

from streamwatch.delivery_compare import (
    LIMIT,
    DeliveryRun,
    KindDelta,
    compare,
    comparison_dict,
    format_comparison,
)
from streamwatch.detection_delay import DelayStats
from streamwatch.evaluate import evaluate
from streamwatch.scorecard import score

T0 = "2026-10-05T10:00:00Z"


def label(customer: str, kind: str, scenario: str = "patient_miner") -> dict[str, Any]:
    return {
        "customer_id": customer,
        "kind": kind,
        "start": T0,
        "end": T0,
        "scenario": scenario,
        "benign": False,
        "detail": {},
    }


def alert(customer: str, kind: str, at: str = T0) -> dict[str, Any]:
    return {
        "alert_id": f"{customer}-{kind}-{at}",
        "customer_id": customer,
        "kind": kind,
        "event_time": at,
        "money_at_risk": None,
    }


LABELS = [
    label("c1", "crypto_mining"),
    label("c2", "crypto_mining"),
    label("c3", "spend_spike", "slow_egress_flood"),
]


def run(
    delivery: str, alerts: list[dict[str, Any]], late: int = 0, after_close: int = 0
) -> DeliveryRun:
    return DeliveryRun(
        delivery=delivery,
        report=evaluate(LABELS, alerts),
        card=score(LABELS, alerts, [], {"c1": "patient_miner"}, ()),
        events=100,
        processed=99,
        late=late,
        duplicates=1,
        generated_duplicates=3,
        dead_letters=0,
        after_close=after_close,
    )


IN_ORDER = run(
    "event_time",
    [alert("c1", "crypto_mining"), alert("c2", "crypto_mining"), alert("c3", "spend_spike")],
)
ARRIVAL = run(
    "arrival",
    [
        alert("c1", "crypto_mining"),
        alert("c3", "spend_spike"),
        alert("c4", "spend_spike"),  # a false positive
    ],
    late=40,
    after_close=7,
)


def test_one_row_per_kind_then_total() -> None:
    deltas = compare(IN_ORDER.report, ARRIVAL.report)
    assert [d.kind for d in deltas] == ["crypto_mining", "spend_spike", "TOTAL"]
    mining, spend, _ = deltas
    assert mining.recall == (1.0, 0.5)
    assert mining.recall_diff == -0.5
    assert mining.precision_diff == 0.0
    assert spend.recall_diff == 0.0
    assert spend.precision == (1.0, 0.5)
    assert all(d.beyond() for d in deltas)


def test_the_limit_is_the_issues() -> None:
    assert LIMIT == 0.02
    assert not KindDelta("k", (0.99, 0.97), (1.0, 1.0)).beyond()
    assert KindDelta("k", (0.99, 0.96), (1.0, 1.0)).beyond()
    assert KindDelta("k", (None, 0.5), (None, None)).beyond()  # scored in one order only
    assert not KindDelta("k", (None, None), (None, None)).beyond()


def test_text_names_both_orders_the_changed_scenarios_and_the_counts() -> None:
    text = format_comparison(IN_ORDER, ARRIVAL)
    lines = text.splitlines()
    assert lines[0] == "recall and precision: event_time (ev) against arrival (arr)"
    assert lines[1].split() == [
        "kind",
        "recall_ev",
        "recall_arr",
        "diff",
        "precision_ev",
        "precision_arr",
        "diff",
    ]
    mining = next(line for line in lines if line.startswith("crypto_mining"))
    assert mining.split() == [
        "crypto_mining",
        "1.000",
        "0.500",
        "-0.500",
        "1.000",
        "1.000",
        "+0.000",
        ">",
        "0.02",
    ]
    assert "  patient_miner crypto_mining: 2/2 -> 1/2" in lines
    assert (
        "arrival: 100 lines = 99 processed (40 late, 7 for an hour already closed)"
        " + 1 duplicates skipped (of 3 written) + 0 dead letters; unaccounted 0"
    ) in lines


def test_json_form() -> None:
    doc = comparison_dict(IN_ORDER, ARRIVAL)
    assert doc["limit"] == LIMIT
    assert [k["kind"] for k in doc["kinds"]] == ["crypto_mining", "spend_spike", "TOTAL"]
    assert doc["kinds"][0]["recall"] == [1.0, 0.5]
    assert doc["kinds"][0]["beyond_limit"] is True
    assert [r["delivery"] for r in doc["runs"]] == ["event_time", "arrival"]
    assert doc["runs"][1]["late"] == 40
    assert doc["runs"][1]["after_close"] == 7
    assert doc["runs"][1]["unaccounted"] == 0


def test_a_line_neither_processed_skipped_nor_dead_lettered_is_unaccounted() -> None:
    lost = dataclasses.replace(ARRIVAL, processed=90)
    assert lost.unaccounted == 9
    assert "unaccounted 9" in format_comparison(IN_ORDER, lost)


def test_each_runs_detection_delays_are_shown_in_hours_and_in_the_json() -> None:
    delays = (
        DelayStats("spend_spike", 1, 9 * 3600.0, 9 * 3600.0, 1800.0, 1800.0),
        DelayStats("TOTAL", 1, 9 * 3600.0, 9 * 3600.0, 1800.0, 1800.0),
    )
    late = dataclasses.replace(ARRIVAL, delays=delays)
    text = format_comparison(IN_ORDER, late)
    assert "detection delay, event_time" not in text  # none measured for it
    section = text.split("detection delay, arrival (hours; p50 / p95):\n")[1]
    row = section.splitlines()[2].split()
    assert row == ["spend_spike", "1", "9.0", "/", "9.0", "0.5", "/", "0.5"]
    doc = comparison_dict(IN_ORDER, late)
    assert doc["runs"][0]["delays"] == []
    assert doc["runs"][1]["delays"][0] == {
        "kind": "spend_spike",
        "detected": 1,
        "from_evidence_s": [32400.0, 32400.0],
        "from_arrival_s": [1800.0, 1800.0],
    }

"""Detection delays from the evidence and from its arrival: which revision counts, what a
label without a detection or an unknown arrival gives, and the table."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.detection_delay import detection_delays, format_delays
from streamwatch.evaluate import parse_time

H = 3600.0


def label(customer: str, kind: str, start: str, end: str, benign: bool = False) -> dict[str, Any]:
    return {"customer_id": customer, "kind": kind, "start": start, "end": end, "benign": benign}


def alert(customer: str, kind: str, at: str, raised: str, revision: int = 1) -> dict[str, Any]:
    return {
        "alert_id": f"{customer}-{kind}",
        "customer_id": customer,
        "kind": kind,
        "event_time": at,
        "detected_at": raised,
        "revision": revision,
    }


def t(hhmm: str) -> str:
    return f"2026-10-05T{hhmm}:00Z"


def test_the_revision_raised_first_gives_both_delays() -> None:
    labels = [label("c1", "spend_spike", t("10:00"), t("14:00"))]
    alerts = [
        # a later revision, amended by late usage to an earlier event time, raised later
        alert("c1", "spend_spike", t("10:00"), t("22:00"), revision=2),
        alert("c1", "spend_spike", t("11:00"), t("20:00")),  # raised first
    ]
    arrived = [parse_time(t("21:30"), ""), parse_time(t("19:30"), "")]
    (spike, total) = detection_delays(labels, alerts, arrived, tolerance_s=H)
    assert (spike.kind, spike.detected) == ("spend_spike", 1)
    assert spike.evidence_p50_s == 9 * H  # 20:00 - 11:00: the data came late
    assert spike.arrival_p50_s == 0.5 * H  # 20:00 - 19:30: what streamwatch added
    assert (total.kind, total.evidence_p95_s, total.arrival_p95_s) == ("TOTAL", 9 * H, 0.5 * H)


def test_undetected_benign_and_unknown_arrivals_give_no_delay() -> None:
    labels = [
        label("c1", "crypto_mining", t("01:00"), t("02:00")),
        label("c2", "crypto_mining", t("01:00"), t("02:00")),  # no alert
        label("c3", "crypto_mining", t("01:00"), t("02:00"), benign=True),
        label("c4", "crypto_mining", t("01:00"), t("02:00")),
    ]
    alerts = [
        alert("c1", "crypto_mining", t("01:00"), t("03:00")),
        alert("c3", "crypto_mining", t("01:00"), t("09:00")),
        alert("c4", "crypto_mining", t("09:00"), t("09:30")),  # beyond end + tolerance
        alert("c1", "spend_spike", t("01:00"), t("09:00")),  # another kind
    ]
    arrived: list[float | None] = [None, None, None, None]
    mining, total = detection_delays(labels, alerts, arrived, tolerance_s=H)
    assert (mining.detected, mining.evidence_p50_s) == (1, 2 * H)
    assert mining.arrival_p50_s is None
    assert total.detected == 1


def test_a_detection_at_or_before_its_arrival_time_waited_zero_and_lengths_must_agree() -> None:
    labels = [label("c1", "budget_threshold", t("01:00"), t("01:00"))]
    alerts = [alert("c1", "budget_threshold", t("01:00"), t("02:00"))]
    (budget, _) = detection_delays(labels, alerts, [parse_time(t("02:10"), "")], 0)
    assert budget.arrival_p50_s == 0.0
    with pytest.raises(ValueError, match="1 arrival times for 2 alerts"):
        detection_delays(labels, alerts * 2, [None], 0)


def test_the_table_is_in_hours_with_the_total_last() -> None:
    labels = [label("c1", "spend_spike", t("10:00"), t("10:00"))]
    alerts = [alert("c1", "spend_spike", t("10:00"), t("11:30"))]
    lines = format_delays(detection_delays(labels, alerts, [parse_time(t("11:00"), "")], 0))
    assert lines[0].split() == ["kind", "detected", "from", "evidence", "from", "arrival"]
    assert lines[2].split() == ["spend_spike", "1", "1.5", "/", "1.5", "0.5", "/", "0.5"]
    assert lines[-1].split()[0] == "TOTAL"
    assert format_delays([]) == []

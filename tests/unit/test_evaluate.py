"""Scoring alerts against labels: recall, precision, delay, tolerance, benign, amendments."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streamwatch.evaluate import Report, evaluate, format_report, load_jsonl, main
from streamwatch.generator.scenarios import CONSEQUENCES, SCENARIOS

T0 = "2026-10-05T10:00:00Z"


def at(offset_s: int, base: str = T0) -> str:
    dt = datetime.fromisoformat(base) + timedelta(seconds=offset_s)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def label(
    customer: str = "cust-00001",
    kind: str = "budget_threshold",
    start: int = 0,
    end: int | None = None,
    *,
    benign: bool = False,
) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "kind": kind,
        "start": at(start),
        "end": at(start if end is None else end),
        "scenario": "test",
        "benign": benign,
        "detail": {},
    }


def alert(
    event_time: int = 0,
    customer: str = "cust-00001",
    kind: str = "budget_threshold",
    alert_id: str | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id or f"a-{customer}-{kind}-{event_time}",
        "customer_id": customer,
        "kind": kind,
        "severity": "low",
        "score": 0.5,
        "event_time": at(event_time),
    }


def summary(report: Report, kind: str = "budget_threshold") -> dict[str, Any]:
    s = report.kind(kind)
    return {
        "labels": s.labels,
        "detected": s.detected,
        "exact": s.exact,
        "alerts": s.alerts,
        "tp": s.true_positives,
        "fp": s.false_positives,
        "tolerated": s.tolerated,
        "recall": s.recall,
        "precision": s.precision,
        "p50": s.delay_median_s,
        "p95": s.delay_p95_s,
    }


def expect(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "labels": 1,
        "detected": 0,
        "exact": 0,
        "alerts": 1,
        "tp": 0,
        "fp": 0,
        "tolerated": 0,
        "recall": 0.0,
        "precision": None,
        "p50": None,
        "p95": None,
    }
    base.update(kw)
    return base


CASES = [
    pytest.param(
        [label()],
        [alert(0)],
        {},
        expect(detected=1, exact=1, tp=1, recall=1.0, precision=1.0, p50=0.0, p95=0.0),
        id="alert-at-the-label-instant-is-an-exact-hit",
    ),
    pytest.param(
        [label()],
        [alert(1800)],
        {},
        expect(detected=1, tp=1, recall=1.0, precision=1.0, p50=1800.0, p95=1800.0),
        id="alert-within-tolerance-is-detected-but-not-exact",
    ),
    pytest.param(
        [label()],
        [alert(3600)],
        {},
        expect(detected=1, tp=1, recall=1.0, precision=1.0, p50=3600.0, p95=3600.0),
        id="tolerance-bound-is-inclusive",
    ),
    pytest.param(
        [label()],
        [alert(3601)],
        {},
        expect(fp=1, precision=0.0),
        id="alert-after-tolerance-misses-and-is-false",
    ),
    pytest.param(
        [label()],
        [alert(-1)],
        {},
        expect(fp=1, precision=0.0),
        id="alert-before-the-label-is-false",
    ),
    pytest.param(
        [label()],
        [alert(60)],
        {"tolerance_s": 0},
        expect(fp=1, precision=0.0),
        id="zero-tolerance-needs-the-exact-instant",
    ),
    pytest.param(
        [label()],
        [alert(0, customer="cust-00002")],
        {},
        expect(fp=1, precision=0.0),
        id="other-customer-does-not-match",
    ),
    pytest.param(
        [label(start=0, end=7200)],
        [alert(5000)],
        {},
        expect(detected=1, tp=1, recall=1.0, precision=1.0, p50=5000.0, p95=5000.0),
        id="interval-label-matched-inside-but-never-exact",
    ),
    pytest.param(
        [label(), label(benign=True, start=86_400)],
        [alert(0), alert(86_400)],
        {},
        expect(
            detected=1,
            exact=1,
            alerts=2,
            tp=1,
            tolerated=1,
            recall=1.0,
            precision=1.0,
            p50=0.0,
            p95=0.0,
        ),
        id="alert-on-benign-label-is-tolerated-not-false",
    ),
    pytest.param(
        [label()],
        [alert(0, alert_id="x"), alert(600, alert_id="x"), alert(0, alert_id="x")],
        {},
        expect(detected=1, exact=1, tp=1, recall=1.0, precision=1.0, p50=0.0, p95=0.0),
        id="amendments-count-once",
    ),
    pytest.param(
        [label(), label(start=86_400)],
        [alert(0, alert_id="x"), alert(86_400, alert_id="x")],
        {},
        expect(labels=2, detected=1, exact=1, tp=1, recall=0.5, precision=1.0, p50=0.0, p95=0.0),
        id="amended-alert-matches-by-its-earliest-event-time",
    ),
    pytest.param(
        [label(), label(start=86_400)],
        [alert(0, alert_id="x"), alert(86_400, alert_id="x")],
        {"match_revisions": True},
        expect(labels=2, detected=2, exact=2, tp=1, recall=1.0, precision=1.0, p50=0.0, p95=0.0),
        id="match-revisions-lets-each-revision-match",
    ),
    pytest.param(
        [
            label(start=0),
            label(start=10_000),
            label(start=20_000),
            label(start=30_000),
            label(start=40_000),
        ],
        [alert(0), alert(10_010), alert(20_020), alert(30_030), alert(41_000)],
        {},
        expect(
            labels=5,
            detected=5,
            exact=1,
            alerts=5,
            tp=5,
            recall=1.0,
            precision=1.0,
            p50=20.0,
            p95=1000.0,
        ),
        id="median-and-nearest-rank-p95-of-delays",
    ),
    pytest.param(
        [label(start=0), label(start=60)],
        [alert(60)],
        {},
        expect(labels=2, detected=2, exact=1, tp=1, recall=1.0, precision=1.0, p50=30.0, p95=60.0),
        id="one-alert-may-detect-several-labels",
    ),
]


@pytest.mark.parametrize(("labels", "alerts", "options", "expected"), CASES)
def test_scores(
    labels: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    options: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert summary(evaluate(labels, alerts, **options)) == expected


def test_benign_labels_do_not_count_toward_recall() -> None:
    report = evaluate([label(benign=True)], [])
    assert report.benign_labels == 1
    assert report.kinds == ()
    assert report.total.recall is None


def test_kinds_are_scored_separately_and_totalled() -> None:
    labels = [label(), label(kind="provider_notice", start=100)]
    alerts = [alert(0), alert(100, kind="provider_notice"), alert(500, kind="spend_spike")]
    report = evaluate(labels, alerts)
    assert [s.kind for s in report.kinds] == ["budget_threshold", "provider_notice", "spend_spike"]
    spike = report.kind("spend_spike")
    assert (spike.labels, spike.alerts, spike.false_positives, spike.recall) == (0, 1, 1, None)
    total = report.total
    assert (total.labels, total.detected, total.alerts, total.true_positives) == (2, 2, 3, 2)
    assert total.false_positives == 1
    assert total.precision == pytest.approx(2 / 3)


def test_wrong_kind_for_the_same_customer_is_a_false_positive() -> None:
    report = evaluate([label()], [alert(0, kind="spend_spike")])
    assert report.kind("budget_threshold").detected == 0
    assert report.kind("spend_spike").false_positives == 1


def test_a_kind_the_scenario_may_also_raise_is_tolerated_for_its_customers_only() -> None:
    consequences = {"test": ["spend_spike"]}
    alerts = [
        alert(0, kind="spend_spike"),
        alert(0, kind="crypto_mining"),
        alert(0, customer="cust-00002", kind="spend_spike"),
    ]
    report = evaluate([label()], alerts, consequences=consequences)
    assert summary(report, "spend_spike")["tolerated"] == 1
    assert report.kind("spend_spike").false_positives == 1
    assert report.kind("crypto_mining").false_positives == 1
    assert report.kind("budget_threshold").detected == 0


def test_a_scenario_without_labels_tolerates_its_consequences_for_whoever_plays_it() -> None:
    consequences = {"test": ["spend_spike"], "quiet": ["spend_spike"]}
    alerts = [
        alert(0, customer="cust-00002", kind="spend_spike"),
        alert(0, customer="cust-00003", kind="spend_spike"),
        alert(0, customer="cust-00002", kind="crypto_mining"),
    ]
    plays = {"cust-00002": "quiet", "cust-00003": "organic"}
    report = evaluate([label()], alerts, consequences=consequences, scenarios_of=plays)
    assert summary(report, "spend_spike")["tolerated"] == 1
    assert report.kind("spend_spike").false_positives == 1  # cust-00003 plays nothing that may
    assert report.kind("crypto_mining").false_positives == 1  # not a consequence of "quiet"


def test_packaged_scenarios_declare_their_side_effects() -> None:
    assert set(CONSEQUENCES) == set(SCENARIOS)
    assert "spend_spike" in CONSEQUENCES["crypto_mining"]
    assert CONSEQUENCES["budget_overrun"] == frozenset()


def test_unknown_kind_lookup_raises_key_error() -> None:
    with pytest.raises(KeyError):
        evaluate([], []).kind("crypto_mining")


@pytest.mark.parametrize(
    ("labels", "alerts", "message"),
    [
        pytest.param(
            [{**label(), "start": "yesterday"}], [], "not an RFC 3339", id="label-bad-time"
        ),
        pytest.param(
            [{**label(), "start": "2026-10-01T00:00:00"}], [], "no UTC offset", id="naive-time"
        ),
        pytest.param([], [{**alert(), "event_time": None}], "not an RFC 3339", id="no-time"),
        pytest.param(
            [], [{k: v for k, v in alert().items() if k != "alert_id"}], "alert_id", id="no-id"
        ),
        pytest.param([label(start=10, end=0)], [], "ends before", id="label-ends-before-start"),
    ],
)
def test_malformed_input_raises_value_error(
    labels: list[dict[str, Any]], alerts: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(labels, alerts)


def test_negative_tolerance_is_rejected() -> None:
    with pytest.raises(ValueError, match="tolerance_s"):
        evaluate([], [], tolerance_s=-1)


def test_format_report_prints_an_aligned_table() -> None:
    text = format_report(evaluate([label(), label(start=60)], [alert(0), alert(9999)]))
    lines = text.splitlines()
    assert lines[0].split() == [
        "kind",
        "labels",
        "detected",
        "exact",
        "recall",
        "alerts",
        "tp",
        "fp",
        "tolerated",
        "precision",
        "delay_p50_s",
        "delay_p95_s",
    ]
    row = lines[2].split()
    assert row == [
        "budget_threshold",
        "2",
        "1",
        "1",
        "50.0%",
        "2",
        "1",
        "1",
        "0",
        "50.0%",
        "0",
        "0",
    ]
    assert lines[4].split()[0] == "TOTAL"
    assert len(lines[0]) == len(lines[2]) == len(lines[4])
    assert "tolerance 3600 s" in lines[-1]


def test_format_report_shows_dashes_for_undefined_ratios() -> None:
    text = format_report(evaluate([label()], []))
    assert text.splitlines()[2].split()[-3:] == ["-", "-", "-"]


def test_load_jsonl_reads_objects_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text(json.dumps(alert(0)) + "\n\n" + json.dumps(alert(5)) + "\n")
    assert load_jsonl(path) == [alert(0), alert(5)]


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]"], ids=["invalid-json", "array"])
def test_load_jsonl_names_the_bad_line(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text(json.dumps(alert(0)) + "\n" + bad + "\n")
    with pytest.raises(ValueError, match=r"alerts\.jsonl:2"):
        load_jsonl(path)


def test_main_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "labels.jsonl").write_text(json.dumps(label()) + "\n")
    (tmp_path / "alerts.jsonl").write_text(json.dumps(alert(0)) + "\n")
    assert main([str(tmp_path / "labels.jsonl"), str(tmp_path / "alerts.jsonl")]) == 0
    assert "budget_threshold" in capsys.readouterr().out


def test_report_as_dict_is_json_ready() -> None:
    data = evaluate([label()], [alert(0)]).as_dict()
    assert json.loads(json.dumps(data))["total"]["recall"] == 1.0

"""What the console keeps from the output topics: the latest revision of recent alerts,
requests and their results, bounded, in time order per customer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamwatch.web import feed
from streamwatch.web.console import Refused, _match


def alert(alert_id: str, revision: int = 1, customer: str = "c1", **over: Any) -> bytes:
    doc = {
        "alert_id": alert_id,
        "customer_id": customer,
        "kind": "spend_spike",
        "severity": "high",
        "revision": revision,
        "event_time": f"2026-10-0{revision}T00:00:00Z",
        "reasons": ["r"],
        "evidence": {"status": "open"},
    } | over
    return orjson.dumps(doc)


def test_the_latest_revision_wins_whatever_the_order_read() -> None:
    recent = feed.Recent()
    recent.add("alerts", alert("a", 2, severity="critical"))
    recent.add("alerts", alert("a", 1))
    assert recent.alerts["a"]["revision"] == 2
    assert recent.alerts["a"]["severity"] == "critical"


def test_bad_records_are_counted_not_kept() -> None:
    recent = feed.Recent()
    for value in (b"not json", b"[1]", orjson.dumps({"alert_id": 3})):
        recent.add("alerts", value)
    assert recent.skipped == 3
    assert not recent.alerts


def test_alerts_are_bounded_oldest_first_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "MAX_ALERTS", 3)
    recent = feed.Recent()
    for i in range(5):
        recent.add("alerts", alert(f"a{i}"))
    assert list(recent.alerts) == ["a2", "a3", "a4"]


def test_filters_by_kind_severity_status_and_customer() -> None:
    recent = feed.Recent()
    recent.add("alerts", alert("a", customer="c1"))
    recent.add("alerts", alert("b", customer="c2", kind="chargeback", severity="critical"))
    recent.add("alerts", alert("c", customer="c2", evidence={"status": "resolved"}))
    assert [a["alert_id"] for a in recent.alert_list()] == ["c", "b", "a"], "newest first"
    assert [a["alert_id"] for a in recent.alert_list(kind="chargeback")] == ["b"]
    assert [a["alert_id"] for a in recent.alert_list(severity="high", customer_id="c2")] == ["c"]
    assert [a["alert_id"] for a in recent.alert_list(status="open")] == ["b", "a"]


def test_a_customers_timeline_has_alerts_requests_and_results_in_time_order() -> None:
    recent = feed.Recent()
    recent.add("alerts", alert("a", 1))
    recent.add(
        "enforcement",
        orjson.dumps(
            {
                "request_id": "r",
                "customer_id": "c1",
                "action": "suspend",
                "policy": "p",
                "reason": "why",
                "requires_approval": True,
                "requested_at": "2026-10-01T00:00:01Z",
            }
        ),
    )
    result = {
        "result_id": "x",
        "request_id": "r",
        "customer_id": "c1",
        "action": "suspend",
        "outcome": "done",
        "reason": "applied",
        "approved_by": "alice",
        "at": "2026-10-01T00:05:00Z",
    }
    recent.add("enforcement-results", orjson.dumps(result))
    recent.add("enforcement-results", orjson.dumps(result))  # a repeat after a crash
    rows = recent.timeline("c1")
    assert [r["what"] for r in rows] == ["alert", "request", "result"]
    assert rows[1]["title"] == "suspend requested by rule p (approval required)"
    assert rows[2]["title"] == "suspend: done (approved by alice)"
    assert recent.timeline("other") == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, {}), ("", {}), ("a=x*, b = y", {"a": "x*", "b": "y"}), ({"a": 1}, {"a": "1"})],
)
def test_match_is_an_object_or_field_glob_text(given: Any, expected: dict[str, str]) -> None:
    assert _match(given) == expected


def test_match_text_without_equals_is_refused() -> None:
    with pytest.raises(Refused):
        _match("nonsense")

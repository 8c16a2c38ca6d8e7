"""Alerts in Alertmanager's terms, and what each revision and each re-send posts."""

from __future__ import annotations

import json

import orjson
import pytest
from jsonschema import Draft202012Validator
from notify_builders import alert

from streamwatch.core.codec import DecodeError
from streamwatch.core.timeutil import format_ts, parse_ts_ms
from streamwatch.live.catalogue import packaged_catalogue
from streamwatch.notify.alert import parse_alert
from streamwatch.notify.alertmanager import MAX_OPEN_MS, Entry, due, on_alert

NOW = parse_ts_ms("2026-10-01T12:00:00Z")
RESEND_S = 60
CONSOLE = "https://console.example"


def send(known: Entry | None, doc: dict, now: int = NOW):
    return on_alert(known, doc, now_ms=now, resend_s=RESEND_S, console_url=CONSOLE)


def test_alert_schema_fixture_is_valid() -> None:
    schema = json.loads((packaged_catalogue() / "schemas/alert.schema.json").read_text())
    assert list(Draft202012Validator(schema).iter_errors(alert())) == []


def test_an_open_alert_carries_labels_annotations_and_ends_four_periods_ahead() -> None:
    update = send(None, alert())
    (posting,) = update.postings
    assert posting["labels"] == {
        "alertname": "streamwatch_spend_spike",
        "customer": "cust-1",
        "kind": "spend_spike",
        "severity": "high",
        "detector": "spend_spike",
        "alert_id": alert()["alert_id"],
    }
    assert posting["annotations"] == {
        "summary": "Spend 5.0x the baseline (revision 1).",
        "reasons": "Spend 5.0x the baseline (revision 1).\nNew region.",
        "money_at_risk": "1,234.50 USD",
        "score": "0.80",
        "revision": "1",
        "console": "https://console.example/customers/cust-1",
    }
    assert posting["generatorURL"] == "https://console.example/customers/cust-1"
    assert posting["startsAt"] == "2026-10-01T01:00:00Z"
    assert posting["endsAt"] == format_ts(NOW + 4 * RESEND_S * 1000)
    assert update.entry is not None
    assert not update.entry.resolved


def test_resolving_ends_the_alert_under_the_labels_alertmanager_knows() -> None:
    first = send(None, alert(severity="high")).entry
    update = send(first, alert(revision=2, severity="info", status="resolved"), now=NOW + 5000)
    (posting,) = update.postings
    assert posting["labels"] == first.labels  # severity high, as it fired, not info
    assert posting["endsAt"] == format_ts(NOW + 5000)
    assert posting["startsAt"] == first.starts_at
    assert update.entry is not None
    assert update.entry.resolved


def test_a_severity_change_ends_the_old_label_set_and_fires_the_new() -> None:
    first = send(None, alert(severity="high")).entry
    update = send(first, alert(revision=2, severity="critical"))
    old, new = update.postings
    assert old["labels"]["severity"] == "high"
    assert old["endsAt"] == format_ts(NOW)
    assert new["labels"]["severity"] == "critical"
    assert new["endsAt"] > format_ts(NOW)
    assert new["annotations"]["revision"] == "2"


def test_a_redelivered_older_revision_posts_nothing() -> None:
    second = send(None, alert(revision=2)).entry
    update = send(second, alert(revision=1))
    assert update.postings == []
    assert update.entry is None


def test_resend_refreshes_open_alerts_resends_resolved_and_lets_stale_ones_end() -> None:
    open_ = send(None, alert("a")).entry
    resolved = send(None, alert("b", status="resolved")).entry
    stale = send(None, alert("c"), now=NOW - MAX_OPEN_MS - 1).entry
    book = {"a": open_, "b": resolved, "c": stale}
    later = NOW + 60_000
    got = due(book, now_ms=later, resend_s=RESEND_S)
    assert got.expired == ["c"]
    assert [(p["labels"]["customer"], p["endsAt"]) for p in got.postings] == [
        ("a", format_ts(later + 4 * RESEND_S * 1000)),
        ("b", format_ts(later)),
    ]


def test_entries_round_trip_through_json() -> None:
    entry = send(None, alert()).entry
    assert entry is not None
    assert Entry.from_dict(orjson.loads(orjson.dumps(entry.to_dict()))) == entry


def test_no_console_url_means_no_link() -> None:
    (posting,) = on_alert(None, alert(), now_ms=NOW, resend_s=60, console_url=None).postings
    assert "console" not in posting["annotations"]
    assert "generatorURL" not in posting


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        pytest.param({"alert_id": "x"}, "invalid_value", "alert_id", id="alert-id"),
        pytest.param({"severity": "loud"}, "invalid_value", "severity", id="severity"),
        pytest.param({"revision": 0}, "invalid_value", "revision", id="revision"),
        pytest.param({"revision": True}, "invalid_value", "revision", id="revision-bool"),
        pytest.param({"event_time": "yesterday"}, "invalid_timestamp", "event_time", id="time"),
        pytest.param({"reasons": "one"}, "wrong_type", "reasons", id="reasons"),
        pytest.param({"score": "0.9"}, "wrong_type", "score", id="score"),
        pytest.param(
            {"money_at_risk": {"amount": "x"}}, "invalid_value", "money_at_risk", id="money"
        ),
    ],
)
def test_bad_alerts_are_refused_with_the_field(change: dict, code: str, field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_alert(orjson.dumps({**alert(), **change}))
    assert (caught.value.code, caught.value.field) == (code, field)


def test_missing_fields_and_non_json_are_refused() -> None:
    doc = alert()
    del doc["kind"]
    with pytest.raises(DecodeError, match="missing"):
        parse_alert(orjson.dumps(doc))
    with pytest.raises(DecodeError) as caught:
        parse_alert(b"\xff not json")
    assert caught.value.code in ("invalid_json", "invalid_utf8")

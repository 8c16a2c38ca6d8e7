"""Every published sample record of every format, fed through its adapter.

The samples live outside the repository, in ``../shared/datasets`` next to it, when that folder
exists; the test is skipped otherwise (the other adapter tests carry their own records).
Records are matched by folder and name, so further samples of the same formats dropped into
those folders are fed too. Each record must map, or be refused with one of the reasons the
format expects of such samples; mapped events are checked against their source record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamwatch.adapters import FORMATS
from streamwatch.adapters.base import Context, Refused
from streamwatch.adapters.read import is_csv, read_source
from streamwatch.adapters.run import Run, records_of

DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
REAL = DATASETS / "real-formats"

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(),
    reason="the sample datasets (../shared/datasets/real-formats next to the repository) are "
    "not on this machine",
)

SOURCES: dict[str, tuple[list[str], set[str]]] = {
    # format: (glob patterns under datasets/, refusal codes the samples may earn)
    "azure-activity": (
        [
            "real-formats/azure-activity-log/rest-eventdata/*",
            "real-formats/azure-activity-log/diagnostic-export-records/*",
        ],
        {"interim_status", "invalid_json"},  # a Start record; the Policy sample is not JSON
    ),
    "partner-usage": (
        [
            "real-formats/partner-center-billing/*consumption-lineitems*.json",
            "real-formats/partner-center-billing/*consumption-lineitems*.response.http",
        ],
        set(),
    ),
    "partner-utilization": (["real-formats/partner-center-utilization/*.json"], set()),
    "azure-cost": (["real-formats/azure-cost-details/*.csv"], set()),
    "focus": (["focus-billing-sample/*.csv"], set()),
    "partner-fraud": (
        [
            "real-formats/partner-center-fraud-events/fraudEvents.*",
            "real-formats/partner-center-fraud-events/update-status.*",
        ],
        # the published bodies are not JSON (missing commas); the request is not an event
        {"invalid_json", "missing_field"},
    ),
    "defender-alerts": (["real-formats/defender-for-cloud-alerts/*.json"], set()),
    "azure-health": (["real-formats/azure-resource-service-health/*.json"], set()),
    "flow-logs": (["real-formats/azure-network-flow-logs/*.json"], {"inbound_only"}),
    "stripe": (
        ["real-formats/stripe-payments/*/*.json"],
        # the fixtures hold every Stripe object, most not payments, many without a customer
        {
            "unsupported_object",
            "unmapped_event",
            "no_customer",
            "draft_invoice",
            "unknown_invoice",
            "missing_field",
        },
    ),
}


def _files(patterns: list[str]) -> list[Path]:
    return sorted({p for pattern in patterns for p in DATASETS.glob(pattern) if p.is_file()})


def _records(path: Path, kind: str) -> Iterator[Any]:
    for document in read_source(path, kind):
        if is_csv(path, kind) or isinstance(document, Refused):
            yield document
        elif isinstance(document, dict) and isinstance(document.get("resources"), dict):
            yield from document["resources"].values()  # Stripe's fixtures3: every object
        else:
            yield from records_of(document)


def _number(value: Any) -> float:
    return float(value) if value not in (None, "", "NULL") else 0.0


def _check_activity(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
    resource = source.get("resourceId") or ""
    assert all(e["resource_id"] == resource.lower() for e in events if e["operation"] != "signin")


def _check_usage_total(field: str) -> Callable[[dict[str, Any], list[dict[str, Any]]], None]:
    def check(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
        (event,) = events
        lowered = {k.lower(): v for k, v in source.items()}
        total = _number(lowered[field.lower()])
        if event["type"] == "usage":
            assert event["cost"] == pytest.approx(total)
            assert event["interval_s"] >= 3600
        else:
            assert event["amount"] == pytest.approx(abs(total))

    return check


def _check_utilization(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
    (event,) = events
    assert event["quantity"] == source["quantity"]
    assert event["interval_s"] == 86400


def _check_flows(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
    out = 0
    for tuples in _all_tuples(source):
        cells = tuples.split(",")
        if cells[6] == "O" and len(cells) >= 13 and cells[10].isdigit():
            out += int(cells[10])
    assert sum(e["properties"]["bytes_out"] for e in events) == out


def _all_tuples(source: dict[str, Any]) -> Iterator[str]:
    for acl in (source.get("flowRecords") or {}).get("flows", []):
        for group in acl.get("flowGroups", []):
            yield from group.get("flowTuples", [])
    for rule in (source.get("properties") or {}).get("flows", []):
        for per_mac in rule.get("flows", []):
            yield from per_mac.get("flowTuples", [])


def _check_defender(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
    (event,) = events
    assert event["properties"]["notice_id"] == source["properties"]["systemAlertId"]


def _check_health(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
    assert all(e["properties"]["category"].startswith("health.") for e in events)


def _check_fraud(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
    assert events[0]["properties"]["notice_id"] == source["eventId"]


def _check_stripe(source: dict[str, Any], events: list[dict[str, Any]]) -> None:
    obj = source["data"]["object"] if source.get("object") == "event" else source
    for event in events:
        if event["kind"] in {"payment.succeeded", "chargeback"} and obj.get("object") != "invoice":
            assert event["amount"] == obj["amount"] / 100


CHECKS: dict[str, Callable[[dict[str, Any], list[dict[str, Any]]], None]] = {
    "azure-activity": _check_activity,
    "partner-usage": _check_usage_total("billingPreTaxTotal"),
    "partner-utilization": _check_utilization,
    "azure-cost": _check_usage_total("Cost"),
    "focus": _check_usage_total("BilledCost"),
    "partner-fraud": _check_fraud,
    "defender-alerts": _check_defender,
    "azure-health": _check_health,
    "flow-logs": _check_flows,
    "stripe": _check_stripe,
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_sample_maps_or_is_refused_for_an_expected_reason(name: str) -> None:
    patterns, allowed = SOURCES[name]
    files = _files(patterns)
    if not files:
        pytest.skip(f"no {name} samples in the datasets folder")
    adapter = FORMATS[name]
    run = Run(adapter.map_record, Context())
    mapped = 0
    for path in files:
        for record in _records(path, adapter.INPUT):
            events = run.record(record)
            if events:
                mapped += 1
                CHECKS[name](record, events)
                for event in events:
                    orjson.dumps(event)
    unexpected = set(run.summary.refused) - allowed
    assert not unexpected, {code: run.summary.examples[code] for code in unexpected}
    assert mapped > 0
    assert run.summary.events >= mapped


def test_the_focus_sample_maps_whole() -> None:
    files = _files(["focus-billing-sample/focus_sample.csv"])
    if not files:
        pytest.skip("the FOCUS sample is not in the datasets folder")
    run = Run(FORMATS["focus"].map_record, Context())
    for record in _records(files[0], "csv"):
        run.record(record)
    assert run.summary.records == 1000
    assert run.summary.refused == {}
    assert run.summary.by_type["payment"] == 13  # the credit and the negative corrections

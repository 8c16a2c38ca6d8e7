"""The evidence pack, built from hand-made events, alerts, requests and outcomes."""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from streamwatch import testing as build
from streamwatch.cli import main
from streamwatch.core.events import Event
from streamwatch.core.timeutil import parse_ts_ms
from streamwatch.enforce.messages import request_from_dict, result_message
from streamwatch.evidence import build_evidence, classify
from streamwatch.evidence_letter import render_letter
from streamwatch.live.catalogue import packaged_catalogue

CUSTOMER = "cust-fraud"
CARD = {"type": "prepaid_card", "fingerprint": "card-9", "country": "US"}
COLLECTIONS = "c" * 32
MINING = "a" * 32


def events() -> list[dict[str, Any]]:
    """A prepaid card, a 500 USD invoice, three days of usage, a failure, a part payment that is
    then charged back; and another customer's usage, which the pack must leave out."""

    def usage(day: int, hour: int, cost: float, sku: str, region: str) -> dict[str, Any]:
        return build.usage(
            CUSTOMER,
            ts=f"2026-10-0{day}T{hour:02d}:00:00Z",
            cost=cost,
            sku=sku,
            region=region,
            event_id=f"u-{day}-{hour}-{sku}",
        )

    return [
        build.payment(
            "instrument.added",
            CUSTOMER,
            ts="2026-10-01T00:00:00Z",
            amount=None,
            instrument=CARD,
            billing_country="DE",
            event_id="p-card",
        ),
        build.payment(
            "invoice.issued",
            CUSTOMER,
            ts="2026-10-01T00:00:00Z",
            amount=500.0,
            invoice_id="INV-1",
            due_date="2026-10-03",
            event_id="p-inv",
        ),
        usage(1, 6, 5.0, "Standard_D4s_v5", "westeurope"),  # before the incident
        usage(1, 13, 40.0, "Standard_NC24", "eastus"),
        usage(1, 14, 40.0, "Standard_NC24", "eastus"),
        usage(2, 1, 60.0, "Standard_NC24", "southeastasia"),
        usage(2, 2, 10.0, "Standard_D4s_v5", "westeurope"),
        usage(3, 0, 80.0, "Standard_NC24", "eastus"),
        build.payment(
            "payment.failed",
            CUSTOMER,
            ts="2026-10-02T00:00:00Z",
            amount=500.0,
            invoice_id="INV-1",
            instrument=CARD,
            failure_reason="insufficient_funds",
            event_id="p-fail",
        ),
        build.payment(
            "payment.succeeded",
            CUSTOMER,
            ts="2026-10-03T00:00:00Z",
            amount=100.0,
            invoice_id="INV-1",
            instrument=CARD,
            event_id="p-ok",
        ),
        build.payment(
            "chargeback",
            CUSTOMER,
            ts="2026-10-04T00:00:00Z",
            amount=100.0,
            invoice_id="INV-1",
            event_id="p-cb",
        ),
        build.usage("cust-other", ts="2026-10-02T00:00:00Z", cost=999.0, event_id="u-other"),
    ]


def alert(
    alert_id: str,
    kind: str,
    revision: int,
    event_time: str,
    window_start: str,
    detected_at: str,
    severity: str = "high",
    reason: str = "Something happened.",
    **evidence: Any,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "customer_id": CUSTOMER,
        "kind": kind,
        "severity": severity,
        "score": 0.8,
        "event_time": event_time,
        "window_start": window_start,
        "window_end": event_time,
        "detected_at": detected_at,
        "reasons": [reason],
        "evidence": evidence,
        "subscription_ids": ["sub-1"],
        "detector": {"name": "x", "version": "1"},
        "revision": revision,
        "money_at_risk": {
            "amount": 100.0 * revision,
            "currency": "USD",
            "unbilled": 50.0,
            "unpaid": 50.0 * revision,
            "prepaid": 0.0,
            "projected": 50.0,
            "next_invoice": "2026-11-01T00:00:00Z",
            "rate_per_h": 2.0,
            "observed_h": 25,
            "horizon_h": 25,
            "method": "rate USD 2.00/h observed over 25 h, projected over 25 h",
        },
    }


def alerts() -> list[dict[str, Any]]:
    return [
        alert(
            MINING,
            "crypto_mining",
            1,
            "2026-10-01T14:00:00Z",
            "2026-10-01T12:00:00Z",
            "2026-10-01T14:00:05Z",
            reason="GPU at 100% for 2 h on pool ports.",
        ),
        alert(
            COLLECTIONS,
            "collections",
            1,
            "2026-10-02T00:00:00Z",
            "2026-10-01T00:00:00Z",
            "2026-10-02T00:00:07Z",
            reason="Invoice INV-1 payment failed.",
        ),
        alert(
            COLLECTIONS,
            "collections",
            2,
            "2026-10-04T00:00:00Z",
            "2026-10-01T00:00:00Z",
            "2026-10-04T00:00:09Z",
            severity="critical",
            reason="Invoice INV-1 charged back.",
        ),
        alert(  # a repeat of a revision counts once
            MINING,
            "crypto_mining",
            1,
            "2026-10-01T14:00:00Z",
            "2026-10-01T12:00:00Z",
            "2026-10-01T14:00:05Z",
            reason="GPU at 100% for 2 h on pool ports.",
        ),
    ]


def request(request_id: str, action: str, alert_id: str, requested_at: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "customer_id": CUSTOMER,
        "action": action,
        "subscription_ids": ["sub-1"],
        "policy": f"rule-{action}",
        "alert_ids": [alert_id],
        "reason": f"why {action}",
        "dry_run": False,
        "requires_approval": action == "suspend",
        "requested_at": requested_at,
    }


def requests() -> list[dict[str, Any]]:
    return [
        request("1" * 32, "notify", MINING, "2026-10-01T14:00:05Z"),
        request("2" * 32, "require_prepayment", COLLECTIONS, "2026-10-02T00:00:07Z"),
        request("3" * 32, "suspend", COLLECTIONS, "2026-10-04T00:00:09Z"),
    ]


def results() -> list[dict[str, Any]]:
    """The suspension worker's results for the suspend, as ``streamwatch enforce`` writes them:
    held for approval, then applied once approved (each carries the request's ``action``)."""
    suspend = request_from_dict(requests()[2])
    return [
        result_message(
            suspend,
            step="hold",
            outcome="awaiting_approval",
            reason="suspend needs approval",
            backend="log",
            attempt=0,
            at_ms=parse_ts_ms("2026-10-04T00:00:10Z"),
        ),
        result_message(
            suspend,
            step="apply",
            outcome="done",
            reason="approved by ops",
            backend="log",
            attempt=1,
            at_ms=parse_ts_ms("2026-10-04T01:00:00Z"),
            approved_by="ops",
        ),
    ]


@cache
def validator(schema: str) -> Draft202012Validator:
    path = packaged_catalogue() / "schemas" / f"{schema}.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("schema", "docs"),
    [
        pytest.param("alert", alerts, id="alerts"),
        pytest.param("enforcement", requests, id="requests"),
        pytest.param("enforcement-result", results, id="results"),
    ],
)
def test_fixtures_are_messages_as_streamwatch_writes_them(schema: str, docs: Any) -> None:
    for doc in docs():
        assert [e.message for e in validator(schema).iter_errors(doc)] == []


def decoded_events(docs: list[dict[str, Any]]) -> list[Event]:
    return [build.decoded(d) for d in docs]


def pack(**changes: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "events": decoded_events(events()),
        "alerts": alerts(),
        "requests": requests(),
        "results": results(),
    }
    inputs.update(changes)
    return build_evidence(CUSTOMER, generated_at="2026-10-05T00:00:00Z", **inputs)


def test_incident_begins_with_the_first_evidence_of_fraud_or_abuse() -> None:
    got = pack()
    # The collections alert's window starts earlier, but non-payment is not the fraud finding.
    assert got["incident"]["start"] == "2026-10-01T12:00:00Z"
    assert got["incident"]["end"] == "2026-10-04T00:00:00Z"
    assert got["incident"]["began_with"] == "crypto_mining: GPU at 100% for 2 h on pool ports."
    assert got["finding"] == {"fraud_or_abuse": True, "kinds": ["crypto_mining"]}
    # Usage before the incident is left out.
    assert got["usage"]["by_day"][0] == {
        "day": "2026-10-01",
        "currency": "USD",
        "cost": 80.0,
        "records": 2,
    }


def test_a_budget_month_is_not_the_start_of_the_incident() -> None:
    budget = alert("b" * 32, "budget_threshold", 1, "2026-10-20T09:00:00Z",
                   "2026-10-01T00:00:00Z", "2026-10-20T09:00:01Z", severity="medium",
                   reason="80% of the monthly budget.")  # fmt: skip
    chargeback = alert("d" * 32, "chargeback", 1, "2026-10-22T00:00:00Z",
                       "2026-10-22T00:00:00Z", "2026-10-22T00:00:01Z")  # fmt: skip
    alone = build_evidence(CUSTOMER, [], [budget], [])
    assert alone["incident"]["start"] == "2026-10-20T09:00:00Z"
    assert alone["finding"] == {"fraud_or_abuse": False, "kinds": []}
    both = build_evidence(CUSTOMER, [], [budget, chargeback], [])
    assert both["incident"]["start"] == "2026-10-22T00:00:00Z"
    assert both["incident"]["began_with"].startswith("chargeback:")


@pytest.mark.parametrize(
    ("category", "finding"),
    [
        pytest.param("aup.crypto_mining", True, id="acceptable-use"),
        pytest.param("fraud.payment", True, id="fraud"),
        pytest.param("health.degraded", False, id="health"),
    ],
)
def test_a_provider_notice_is_a_finding_by_its_category(category: str, finding: bool) -> None:
    notice = alert("9" * 32, "provider_notice", 1, "2026-10-02T00:00:00Z",
                   "2026-10-02T00:00:00Z", "2026-10-02T00:00:01Z", category=category)  # fmt: skip
    assert build_evidence(CUSTOMER, [], [notice], [])["finding"]["fraud_or_abuse"] is finding


def test_money_involved() -> None:
    (money,) = pack()["money"]
    assert money == {
        "currency": "USD",
        "consumption_since_incident": 230.0,
        "invoiced": 500.0,
        "paid": 100.0,
        "unpaid": 500.0,  # 500 less 100 paid, plus the 100 charged back
        "charged_back": 100.0,
        "refunded": 0.0,
        "prepaid": 0.0,
    }


def test_usage_by_day_and_top_lines() -> None:
    usage = pack()["usage"]
    assert [(d["day"], d["cost"]) for d in usage["by_day"]] == [
        ("2026-10-01", 80.0),
        ("2026-10-02", 70.0),
        ("2026-10-03", 80.0),
    ]
    assert [(s["sku"], s["cost"], s["share"]) for s in usage["top_skus"]] == [
        ("Standard_NC24", 220.0, 0.9565),
        ("Standard_D4s_v5", 10.0, 0.0435),
    ]
    assert [r["region"] for r in usage["top_regions"]] == ["eastus", "southeastasia", "westeurope"]


def test_top_lines_sum_the_rest() -> None:
    got = build_evidence(
        CUSTOMER,
        decoded_events(
            [
                build.usage(CUSTOMER, ts="2026-10-01T00:00:00Z", cost=c, sku=f"sku-{c}")
                for c in (1.0, 2.0, 3.0, 4.0)
            ]
        ),
        [],
        [],
        top=2,
    )
    assert [(s["sku"], s["cost"]) for s in got["usage"]["top_skus"]] == [
        ("sku-4.0", 4.0),
        ("sku-3.0", 3.0),
        ("(all others)", 3.0),
    ]


def test_payments_section() -> None:
    payments = pack()["payments"]
    assert payments["instruments"] == [
        {
            "type": "prepaid_card",
            "fingerprint": "card-9",
            "country": "US",
            "billing_country": "DE",
            "first_seen": "2026-10-01T00:00:00Z",
            "added_explicitly": True,
        }
    ]
    (invoice,) = payments["invoices"]
    assert invoice["outstanding"] == 500.0
    assert invoice["failed_attempts"] == 1
    assert invoice["status"] == "charged back"
    assert [f["failure_reason"] for f in payments["failures"]] == ["insufficient_funds"]
    assert [c["amount"] for c in payments["chargebacks"]] == [100.0]
    assert [p["instrument"] for p in payments["payments"]] == ["card-9"]


@pytest.mark.parametrize(
    ("paid", "as_of", "status"),
    [
        pytest.param(500.0, "2026-10-02T00:00:00Z", "paid", id="paid"),
        pytest.param(100.0, "2026-10-03T12:00:00Z", "unpaid", id="due-today"),
        pytest.param(100.0, "2026-10-04T00:00:00Z", "overdue", id="overdue"),
    ],
)
def test_invoice_status(paid: float, as_of: str, status: str) -> None:
    docs = [
        build.payment(
            "invoice.issued", CUSTOMER, ts="2026-10-01T00:00:00Z", amount=500.0, invoice_id="I",
                due_date="2026-10-03"
        ),
        build.payment("payment.succeeded", CUSTOMER, ts="2026-10-01T01:00:00Z", amount=paid,
                      invoice_id="I"),
        build.usage(CUSTOMER, ts=as_of),
    ]  # fmt: skip
    got = build_evidence(CUSTOMER, decoded_events(docs), [], [])
    assert got["payments"]["invoices"][0]["status"] == status


def test_alerts_are_listed_at_their_latest_revision() -> None:
    listed = pack()["alerts"]
    assert [(a["alert_id"], a["revision"], a["severity"]) for a in listed] == [
        (MINING, 1, "high"),
        (COLLECTIONS, 2, "critical"),
    ]
    assert listed[1]["first_event_time"] == "2026-10-02T00:00:00Z"
    assert listed[1]["revisions_seen"] == 2
    assert pack()["counts"] == {
        "events": 11,
        "alerts": 2,
        "alert_revisions": 3,
        "requests": 3,
        "outcomes": 2,
    }


def test_timeline_orders_alerts_actions_and_outcomes_by_event_time() -> None:
    timeline = pack()["timeline"]
    assert [(t["event_time"], t["what"], t["status"]) for t in timeline] == [
        ("2026-10-01T14:00:00Z", "alert", "open"),
        ("2026-10-01T14:00:00Z", "enforcement", "no outcome recorded"),
        ("2026-10-02T00:00:00Z", "alert", "open"),
        ("2026-10-02T00:00:00Z", "enforcement", "no outcome recorded"),
        # the suspend was caused by the collections alert's second revision
        ("2026-10-04T00:00:00Z", "enforcement", "done"),
        ("2026-10-04T00:00:00Z", "outcome", "awaiting_approval"),
        ("2026-10-04T00:00:00Z", "outcome", "done"),
    ]
    assert timeline[4]["summary"].startswith("suspend requested by rule rule-suspend, approval")


def test_pack_without_outcomes_says_none_were_recorded() -> None:
    got = pack(results=[])
    assert {r["status"] for r in got["enforcement"]} == {"no outcome recorded"}


def test_resolved_alert_shows_as_resolved() -> None:
    resolved = alert(
        COLLECTIONS,
        "collections",
        3,
        "2026-10-05T00:00:00Z",
        "2026-10-01T00:00:00Z",
        "2026-10-05T00:00:01Z",
        severity="info",
        reason="Invoice INV-1 paid in full.",
        status="resolved",
    )
    got = pack(alerts=[*alerts(), resolved])
    assert [a["status"] for a in got["alerts"]] == ["open", "resolved"]


def test_pack_is_the_same_whatever_the_input_order() -> None:
    first = pack()
    rng = random.Random(7)
    shuffled = {
        "events": rng.sample(decoded_events(events()), len(events())),
        "alerts": rng.sample(alerts(), len(alerts())),
        "requests": rng.sample(requests(), len(requests())),
        "results": rng.sample(results(), len(results())),
    }
    assert orjson.dumps(pack(**shuffled)) == orjson.dumps(first)
    assert render_letter(pack(**shuffled)) == render_letter(first)


def test_letter_summarises_and_tabulates() -> None:
    letter = render_letter(pack())
    assert letter.startswith("# Evidence pack: customer cust-fraud\n")
    assert "consumed 230.00 USD; 500.00 USD of its invoices is unpaid" in letter
    assert "100.00 USD was charged back" in letter
    for heading in (
        "## Money involved",
        "## Timeline",
        "## Alerts",
        "## Enforcement actions",
        "## Usage by day since 2026-10-01T12:00:00Z",
        "### Top SKUs",
        "### Top Regions",
        "### Instruments",
        "### Invoices",
        "### Failed payments",
        "### Chargebacks",
    ):
        assert f"\n{heading}\n" in letter, heading
    assert "| 2026-10-02 | USD | 70.00 | 2 |" in letter
    assert "| INV-1 |" in letter


def test_letter_escapes_table_cells() -> None:
    odd = alert(MINING, "crypto_mining", 1, "2026-10-01T14:00:00Z", "2026-10-01T12:00:00Z",
                "2026-10-01T14:00:05Z", reason="a | b\nc")  # fmt: skip
    letter = render_letter(build_evidence(CUSTOMER, [], [odd], []))
    assert "a \\| b c" in letter


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        pytest.param(build.usage(), "event", id="event"),
        pytest.param(alerts()[0], "alert", id="alert"),
        pytest.param(requests()[0], "request", id="request"),
        pytest.param(results()[0], "result", id="result"),
        pytest.param({"hello": 1}, None, id="other"),
    ],
)
def test_classify_by_shape(doc: dict[str, Any], kind: str | None) -> None:
    assert classify(doc) == kind


def test_command_writes_json_and_letter_from_mixed_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "events.jsonl"
    inputs.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in events()) + b"not json\n")
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_bytes(
        b"".join(orjson.dumps(d) + b"\n" for d in [*alerts(), *requests(), *results()])
    )
    out = tmp_path / "pack"
    assert main(["evidence", CUSTOMER, str(inputs), str(outputs), "--out", str(out)]) == 0
    written = orjson.loads((out / "evidence.json").read_bytes())
    expected = pack()
    assert {k: v for k, v in written.items() if k != "generated_at"} == {
        k: v for k, v in expected.items() if k != "generated_at"
    }
    assert (out / "evidence.md").read_text().startswith("# Evidence pack")
    printed = capsys.readouterr().out
    assert "11 events, 2 alerts, 3 requests, 2 outcomes (1 lines passed over)" in printed


def test_command_reports_a_customer_it_knows_nothing_of(tmp_path: Path) -> None:
    inputs = tmp_path / "events.jsonl"
    inputs.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in events()))
    assert main(["evidence", "cust-nobody", str(inputs), "--out", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists()


def test_totals_equal_the_sums_of_the_tables_to_the_cent() -> None:
    """Two days of three SKUs at 0.004 each: rounded line by line, the days show 0.01 + 0.01
    and the SKUs 0.01 + 0.01 + 0.01 under one total."""
    docs = [
        build.usage(CUSTOMER, ts=f"2026-10-0{day}T0{hour}:00:00Z", cost=0.004,
                    sku=f"sku-{hour}", region=f"region-{day}", event_id=f"u-{day}-{hour}")
        for day in (1, 2)
        for hour in (1, 2, 3)
    ] + [
        build.payment("invoice.issued", CUSTOMER, ts="2026-10-01T00:00:00Z", amount=10.005,
                      invoice_id=f"I-{n}", due_date="2026-10-31", event_id=f"inv-{n}")
        for n in range(3)
    ] + [
        build.payment("payment.succeeded", CUSTOMER, ts="2026-10-02T00:00:00Z", amount=0.333,
                      invoice_id=f"I-{n}", event_id=f"paid-{n}")
        for n in range(3)
    ]  # fmt: skip
    got = build_evidence(CUSTOMER, decoded_events(docs), [], [])
    (money,) = got["money"]
    consumed = money["consumption_since_incident"]
    assert consumed == 0.02  # the exact sum is 0.024

    def cents(values: list[float]) -> int:
        return sum(round(v * 100) for v in values)

    usage = got["usage"]
    for table in ("by_day", "top_skus", "top_regions"):
        assert cents([line["cost"] for line in usage[table]]) == round(consumed * 100), table
    invoices = got["payments"]["invoices"]
    assert cents([i["amount"] for i in invoices]) == round(money["invoiced"] * 100)
    assert cents([i["outstanding"] for i in invoices]) == round(money["unpaid"] * 100)
    paid = [p["amount"] for p in got["payments"]["payments"]]
    assert cents(paid) == round(money["paid"] * 100)
    letter = render_letter(got)
    assert f"consumed {consumed:,.2f} USD" in letter
    assert f"| USD | {consumed:,.2f} |" in letter


def test_command_refuses_a_credit_letter_without_a_finding_of_fraud_or_abuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    budget = alert("b" * 32, "budget_threshold", 1, "2026-10-02T00:00:00Z",
                   "2026-10-01T00:00:00Z", "2026-10-02T00:00:01Z", severity="medium",
                   reason="80% of the monthly budget.")  # fmt: skip
    inputs = tmp_path / "in.jsonl"
    inputs.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in [*events(), budget]))
    out = tmp_path / "pack"
    assert main(["evidence", CUSTOMER, str(inputs), "--out", str(out)]) == 1
    assert not out.exists()
    assert "no finding of fraud or abuse" in capsys.readouterr().err
    assert main(["evidence", CUSTOMER, str(inputs), "--out", str(out), "--force"]) == 0
    letter = (out / "evidence.md").read_text()
    assert "made no finding of fraud or abuse about it, so it is not a request for credit" in letter
    assert "We ask for a credit" not in letter

"""The payment detectors on a seeded generated stream, run as replay runs them (the core of
``build_core`` with the default policy and collections policy, fleet sweeps at every hour mark):

- recall and precision of each payment kind >= 0.95, scored by ``streamwatch.evaluate`` (every
  revision may match: a collections alert matches a label per dunning stage it reaches);
- collections alerts at the policy's ages: every revision dated at its due date plus its days
  past due, each labelled stage reached at that instant;
- usage_before_payment within an hour of the first usage of every unpaid new customer;
- no suspend request, ever, for a customer in good standing (no incident of its own), and
  neither restrict nor suspend for the benign look-alikes;
- a late payer's incident resolved when it pays (and, once the policy ladder turns resolved
  alerts into resume requests, a resume request).

bench/payments.py reports the same figures over several seeds, mixed with other incidents.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from streamwatch.config import build_core
from streamwatch.core.codec import event_from_dict
from streamwatch.core.engine import SWEEP_MS, Fleet
from streamwatch.core.events import Alert, EnforcementRequest
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, parse_ts_ms
from streamwatch.evaluate import Report, evaluate
from streamwatch.generator import GeneratorConfig, generate
from streamwatch.generator.scenarios.payments_kit import DUNNING

SCENARIOS: Final = (
    "late_payer",
    "never_pays",
    "prepaid_chargeback",
    "pays_late_once",
    "prepaid_bank_transfer",
    "card_declined_once",
)
BENIGN: Final = frozenset(SCENARIOS[3:])
KINDS: Final = (
    "chargeback",
    "collections",
    "high_risk_instrument",
    "payment_failure",
    "usage_before_payment",
)
STAGE_DAYS: Final = {name: days for name, days, _ in DUNNING}


@dataclass
class Run:
    events: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    alerts: list[Alert] = field(default_factory=list)
    requests: list[EnforcementRequest] = field(default_factory=list)

    def report(self) -> Report:
        ours = [a.to_dict() for a in self.alerts if a.kind in KINDS]
        labels = [lab for lab in self.labels if lab["kind"] in KINDS]
        return evaluate(labels, ours, match_revisions=True)

    def scenario_of(self) -> dict[str, str]:
        return {lab["customer_id"]: lab["scenario"] for lab in self.labels}


@pytest.fixture(scope="module")
def outcome() -> Run:
    result = generate(
        GeneratorConfig(
            seed=5,
            customers=45,
            days=110,
            start="2026-09-20T00:00:00Z",
            incidents=SCENARIOS,
            incident_rate=0.8,
            duplicate_rate=0.002,
        )
    )
    out = Run(result.events, result.labels)
    fleet = Fleet(build_core())
    next_sweep = 0
    for doc in result.events:
        event = event_from_dict(doc)
        if event.ts_ms >= next_sweep:
            swept = fleet.sweep(event.ts_ms, 0)
            out.alerts.extend(swept.alerts)
            out.requests.extend((*swept.requests, *swept.shadowed))
            next_sweep = event.ts_ms - event.ts_ms % SWEEP_MS + SWEEP_MS
        decided = fleet.step(event, 0)
        out.alerts.extend(decided.alerts)
        out.requests.extend((*decided.requests, *decided.shadowed))
    return out


def test_stream_has_every_payment_kind_and_the_benign_look_alikes(outcome: Run) -> None:
    real = defaultdict(int)
    for lab in outcome.labels:
        if not lab["benign"]:
            real[lab["kind"]] += 1
    assert all(real[kind] >= 5 for kind in KINDS), dict(real)
    benign = {lab["scenario"] for lab in outcome.labels if lab["benign"]}
    assert benign >= BENIGN


@pytest.mark.parametrize("kind", KINDS)
def test_recall_precision_and_delay_per_kind(outcome: Run, kind: str, record_property: Any) -> None:
    score = outcome.report().kind(kind)
    figures = (
        f"{kind} recall={score.recall:.3f} precision={score.precision:.3f} "
        f"delay_median_s={score.delay_median_s:.0f} labels={score.labels} "
        f"tp={score.true_positives} fp={score.false_positives} tolerated={score.tolerated}"
    )
    record_property("figures", figures)
    print(figures)
    assert score.recall is not None
    assert score.recall >= 0.95
    assert score.precision is not None
    assert score.precision >= 0.95
    assert score.delay_median_s is not None
    assert score.delay_median_s <= 3600


def test_collections_alerts_come_at_the_policys_ages(outcome: Run) -> None:
    opened = [
        a for a in outcome.alerts if a.kind == "collections" and a.evidence["status"] == "open"
    ]
    assert len(opened) >= 30
    for alert in opened:
        ev = alert.evidence
        due_ms = parse_ts_ms(ev["due_date"])
        assert parse_ts_ms(alert.event_time) == due_ms + ev["days_past_due"] * MS_PER_DAY
        assert ev["days_past_due"] >= STAGE_DAYS[ev["stage"]]
    reached = {
        (a.customer_id, a.evidence["invoice_id"], a.evidence["stage"], a.event_time) for a in opened
    }
    stage_labels = [
        lab for lab in outcome.labels if lab["kind"] == "collections" and not lab["benign"]
    ]
    assert stage_labels
    for lab in stage_labels:
        detail = lab["detail"]
        key = (lab["customer_id"], detail["invoice_id"], detail["stage"], lab["start"])
        assert key in reached, lab


def test_usage_before_payment_within_an_hour_of_the_first_usage(outcome: Run) -> None:
    first_usage: dict[str, int] = {}
    for doc in outcome.events:
        if doc["type"] == "usage" and doc["cost"] > 0:
            first_usage.setdefault(doc["customer_id"], parse_ts_ms(doc["ts"]))
    unpaid = {
        lab["customer_id"]
        for lab in outcome.labels
        if lab["kind"] == "usage_before_payment" and not lab["benign"]
    }
    assert len(unpaid) >= 5
    raised: dict[str, int] = {}
    for alert in outcome.alerts:
        if alert.kind == "usage_before_payment":
            raised.setdefault(alert.customer_id, parse_ts_ms(alert.event_time))
    for customer in unpaid:
        assert customer in raised, customer
        assert 0 <= raised[customer] - first_usage[customer] <= MS_PER_HOUR


def test_no_suspend_request_for_a_customer_in_good_standing(outcome: Run) -> None:
    incidents = {lab["customer_id"] for lab in outcome.labels if not lab["benign"]}
    suspended = {r.customer_id for r in outcome.requests if r.action == "suspend"}
    assert suspended  # the policy does suspend those who earn it
    assert suspended <= incidents
    scenario = outcome.scenario_of()
    harsh = {r.customer_id for r in outcome.requests if r.action in ("restrict", "suspend")}
    assert not {c for c in harsh if scenario.get(c) in BENIGN}


def late_payments(outcome: Run) -> list[tuple[str, str, int]]:
    """(customer, invoice, paid at ms) of the invoices late payers paid after the ladder
    asked them to prepay or more."""
    scenario = outcome.scenario_of()
    restricted = {
        (a.customer_id, a.evidence["invoice_id"])
        for a in outcome.alerts
        if a.kind == "collections" and a.evidence.get("stage") not in (None, "reminder")
    }
    return [
        (doc["customer_id"], doc["invoice_id"], parse_ts_ms(doc["ts"]))
        for doc in outcome.events
        if doc["type"] == "payment"
        and doc["kind"] == "payment.succeeded"
        and scenario.get(doc["customer_id"]) == "late_payer"
        and (doc["customer_id"], doc.get("invoice_id")) in restricted
    ]


def test_late_payer_is_resolved_when_it_pays(outcome: Run) -> None:
    paid = late_payments(outcome)
    assert len(paid) >= 2
    for customer, invoice, at_ms in paid:
        resolved = [
            a
            for a in outcome.alerts
            if a.customer_id == customer
            and a.kind == "collections"
            and a.evidence["invoice_id"] == invoice
            and a.evidence["status"] == "resolved"
        ]
        assert [parse_ts_ms(a.event_time) for a in resolved] == [at_ms]
        assert resolved[0].severity == "info"


def test_a_resume_request_follows_payment(outcome: Run) -> None:
    """Every late payer the ladder restrained is let go when it pays: a resume request for
    each restrictive collections rule that acted, caused by the payment."""
    paid = late_payments(outcome)
    assert paid
    restrictive = ("require_prepayment", "restrict", "suspend")
    for customer, _, at_ms in paid:
        mine = [r for r in outcome.requests if r.customer_id == customer]
        climbed = {r.policy for r in mine if r.action in restrictive}
        resumed = {r.policy for r in mine if r.action == "resume"}
        assert climbed, customer
        assert {p for p in climbed if p.startswith("collections-")} <= resumed, customer
        resume_alerts = {a for r in mine if r.action == "resume" for a in r.alert_ids}
        resolved_at = [
            parse_ts_ms(a.event_time)
            for a in outcome.alerts
            if a.alert_id in resume_alerts and a.evidence.get("status") == "resolved"
        ]
        assert at_ms in resolved_at, customer

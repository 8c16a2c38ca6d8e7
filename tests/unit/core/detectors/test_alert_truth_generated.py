"""Over a generated stream through the default core: no alert has more than 16 revisions, and
every sentence of every revision of every kind is true of that revision's evidence window
(``streamwatch.alert_truth``; spend_spike's money figures too). bench/alert_truth.py checks
the full 200-customer, 60-day stream the same way."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from streamwatch.alert_truth import problems
from streamwatch.config import load_policy
from streamwatch.core.codec import event_from_dict
from streamwatch.core.engine import Core, Fleet
from streamwatch.generator import GeneratorConfig, generate

SCENARIOS = (
    "budget_overrun",
    "spend_spike_sudden",
    "spend_spike_gradual",
    "ddos_egress",
    "spam_fanout",
    "backup_egress",
    "mail_service",
    "promotion",
    "month_end_batch",
    "weekday_onoff",
    "prepaid_gpu",
    "slow_egress_flood",
    "weekly_backup",
    "prepaid_chargeback",
)
CHECKED = ("spend_spike", "network_abuse")


@pytest.fixture(scope="module")
def alerts() -> list[dict[str, Any]]:
    result = generate(
        GeneratorConfig(
            seed=7,
            customers=40,
            days=45,
            start="2026-10-01T00:00:00Z",
            incidents=SCENARIOS,
            incident_rate=0.6,
        )
    )
    fleet = Fleet(Core(load_policy()))
    return [
        alert.to_dict()
        for doc in result.events
        for alert in fleet.step(event_from_dict(doc), 0).alerts
    ]


def test_the_stream_raises_amended_alerts_of_the_kinds_checked(
    alerts: list[dict[str, Any]],
) -> None:
    revisions = Counter(a["alert_id"] for a in alerts if a["kind"] in CHECKED)
    assert {a["kind"] for a in alerts} >= set(CHECKED)
    assert max(revisions.values()) > 1


def test_no_alert_has_more_than_16_revisions(alerts: list[dict[str, Any]]) -> None:
    revisions = Counter(a["alert_id"] for a in alerts)
    assert max(revisions.values()) <= 16


def test_every_sentence_of_every_revision_is_true_of_its_window(
    alerts: list[dict[str, Any]],
) -> None:
    untrue = [
        (a["kind"], a["customer_id"], found)
        for a in alerts
        for found in problems(a, strict_money=a["kind"] == "spend_spike")
    ]
    assert untrue == []

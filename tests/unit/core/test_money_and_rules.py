"""Money at risk on every alert (the README's live example), the forecast of a budget fed
daily billing rows, heavy machines billed per day, and the default policy's rules for large
spikes on new accounts and for signup rings."""

from __future__ import annotations

import pytest

from streamwatch.core.detectors.budget import BudgetDetector
from streamwatch.core.detectors.crypto_mining import CryptoMiningDetector
from streamwatch.core.engine import Core
from streamwatch.testing import (
    budget_set_event,
    default_policy,
    make_alert,
    notice_event,
    run_core,
    ts,
    usage_event,
)


def test_the_readme_example_states_its_money_at_risk_on_every_alert() -> None:
    events = [
        budget_set_event(100, event_id="e1", at=ts(2, 8)),
        notice_event("N-1", event_id="e2", at=ts(2, 9)),
        usage_event(event_id="e3", at=ts(2, 10), cost=60.0),
    ]
    outcome = run_core(Core(default_policy()), events)
    notice, budget = outcome.alerts
    assert notice.kind == "provider_notice"
    assert notice.money_at_risk is not None
    assert (notice.money_at_risk["amount"], notice.money_at_risk["currency"]) == (0.0, "XXX")
    assert budget.kind == "budget_threshold"
    money = budget.money_at_risk
    assert money is not None
    # One $60 hour: $60 plus a day at that rate, not $42,600 by the end of October.
    assert money["amount"] == 60.0 + 60.0 * 24
    assert money["method"] == "rate $60.00/h observed over 1 h, projected over 24 h"


def test_a_budget_fed_daily_rows_forecasts_from_the_days_they_cover() -> None:
    detector = BudgetDetector()
    state = detector.new_state()
    detector.observe(state, budget_set_event(1000, event_id="b", at=ts(1, month=11)))
    fired = []
    for day in range(1, 8):
        # $30 a day, billed once a day: $900 a month, under the $1,000 budget.
        row = usage_event(event_id=f"d{day}", at=ts(day, month=11), cost=30.0, interval_s=86_400)
        fired += [f.evidence["threshold"] for f in detector.observe(state, row)]
    assert "forecast" not in fired


def test_a_heavy_machine_billed_per_day_runs_for_every_hour_of_the_day() -> None:
    detector = CryptoMiningDetector()
    state = detector.new_state()
    gpu_day = usage_event(event_id="g", at=ts(3), meter="gpu", sku="Standard_NC6s_v3",
                          gpus=1, vcpus=6, cost=72.0, interval_s=86_400)  # fmt: skip
    detector.observe(state, gpu_day)
    (group,) = state.groups.values()
    assert group.hours == 24


@pytest.mark.parametrize(
    ("kind", "severity", "evidence", "actions"),
    [
        (
            "spend_spike",
            "high",
            {"status": "open", "standing": "untrusted"},
            ["require_prepayment"],
        ),
        ("spend_spike", "critical", {"status": "open", "standing": "established"}, []),
        ("spend_spike", "medium", {"status": "open", "standing": "untrusted"}, []),
        ("bot_signup", "high", {"ring_id": "r-1"}, ["require_prepayment"]),
        ("bot_signup", "critical", {"ring_id": "r-1"}, ["require_prepayment", "suspend"]),
        ("bot_signup", "medium", {"ring_id": "r-1"}, []),
    ],
    ids=[
        "large-spike-new-account",
        "spike-established-account",
        "small-spike-new-account",
        "ring",
        "confirmed-ring",
        "weak-ring",
    ],
)
def test_default_policy_acts_on_large_spikes_of_new_accounts_and_on_rings(
    kind: str, severity: str, evidence: dict[str, str], actions: list[str]
) -> None:
    requests = default_policy().decide(
        make_alert(kind=kind, severity=severity, evidence=evidence, incident=kind), {}, 0
    )
    assert [request.action for _, request in requests] == actions
    for _, request in requests:
        assert request.requires_approval == (request.action == "suspend")

"""Per-scenario scoring: recall within each scenario's named delay, harsh actions against
look-alikes, money at risk against the loss that followed, and pooling over seeds."""

from __future__ import annotations

from typing import Any

from streamwatch.scorecard import (
    DELAYS_S,
    MONEY_FACTOR,
    format_scorecard,
    merge,
    score,
    stretch,
)
from streamwatch.trial import Trial, pooled

T0 = "2026-10-05T10:00:00Z"


def label(
    scenario: str = "patient_miner",
    kind: str = "crypto_mining",
    customer: str = "c1",
    loss: float | None = None,
) -> dict[str, Any]:
    detail = {} if loss is None else {"loss": loss}
    return {
        "customer_id": customer,
        "kind": kind,
        "start": T0,
        "end": T0,
        "scenario": scenario,
        "benign": False,
        "detail": detail,
    }


def alert(at: str, kind: str = "crypto_mining", customer: str = "c1", mar: float | None = None):
    return {
        "alert_id": f"{customer}-{kind}-{at}",
        "customer_id": customer,
        "kind": kind,
        "event_time": at,
        "money_at_risk": None if mar is None else {"amount": mar},
    }


def test_a_scenario_delay_lets_a_later_alert_count_and_no_later() -> None:
    assert DELAYS_S["patient_miner"] == 6 * 3600
    within = score([label()], [alert("2026-10-05T15:30:00Z")], [], {}, ())
    late = score([label()], [alert("2026-10-05T16:30:00Z")], [], {}, ())
    assert within.rows[0].recall == 1.0
    assert within.rows[0].delay_max_s == 5.5 * 3600
    assert late.rows[0].recall == 0.0


def test_a_named_delay_counts_from_the_start_of_a_long_incident() -> None:
    flood = {**label("slow_egress_flood", "network_abuse"), "end": "2026-10-08T10:00:00Z"}
    day_later = alert("2026-10-06T09:00:00Z", "network_abuse")
    two_days_later = alert("2026-10-07T11:00:00Z", "network_abuse")  # before the flood's end
    assert score([flood], [day_later], [], {}, ()).rows[0].recall == 1.0
    assert score([flood], [two_days_later], [], {}, ()).rows[0].recall == 0.0


def test_other_scenarios_keep_the_evaluation_tolerance() -> None:
    lab = label("prepaid_gpu", "usage_before_payment")
    two_hours = alert("2026-10-05T12:00:00Z", "usage_before_payment")
    assert score([lab], [two_hours], [], {}, ()).rows[0].recall == 0.0


def test_restrict_and_suspend_of_look_alikes_are_counted_per_scenario() -> None:
    requests = [
        {"customer_id": "c1", "action": "suspend"},
        {"customer_id": "c1", "action": "notify"},
        {"customer_id": "c2", "action": "restrict"},
    ]
    card = score(
        [], [], requests, {"c1": "ml_first_training", "c2": "patient_miner"}, {"ml_first_training"}
    )
    assert card.harsh == {"ml_first_training": 1}
    assert card.lookalike_customers == {"ml_first_training": 1}


def test_attacks_count_the_customers_asked_to_prepay_restrict_or_suspend() -> None:
    requests = [
        {"customer_id": "c1", "action": "restrict"},
        {"customer_id": "c1", "action": "restrict"},  # asked twice: one customer
        {"customer_id": "c1", "action": "notify"},
        {"customer_id": "c2", "action": "require_prepayment"},
        {"customer_id": "c3", "action": "suspend"},  # a look-alike: counted as harsh only
    ]
    plays = {"c1": "slow_egress_flood", "c2": "slow_egress_flood", "c3": "weekly_backup",
             "c4": "slow_egress_flood"}  # fmt: skip
    card = score([], [], requests, plays, {"weekly_backup"})
    assert card.attack_customers == {"slow_egress_flood": 3}
    assert card.enforced == {"slow_egress_flood": {"restrict": 1, "require_prepayment": 1}}
    merged = merge([card, card])
    assert merged.attack_customers == {"slow_egress_flood": 6}
    assert merged.enforced == {"slow_egress_flood": {"restrict": 2, "require_prepayment": 2}}
    row = next(line for line in format_scorecard(merged).splitlines()
               if line.startswith("slow_egress_flood "))  # fmt: skip
    assert row.split() == ["slow_egress_flood", "6", "2", "2", "0"]


def test_money_at_risk_is_judged_against_the_loss_within_the_stated_factor() -> None:
    labels = [label(customer="c1", loss=1000.0), label(customer="c2", loss=1000.0)]
    alerts = [
        alert("2026-10-05T11:00:00Z", customer="c1", mar=1000.0 * MONEY_FACTOR),
        alert("2026-10-05T11:00:00Z", customer="c2", mar=1000.0 * MONEY_FACTOR * 1.5),
    ]
    card = score(labels, alerts, [], {}, ())
    assert card.within_factor() == (1, 2)
    assert "1 of 2 incidents within a factor of 3" in format_scorecard(card)


def test_stretch_moves_only_the_ends_of_scenarios_with_a_delay() -> None:
    out = stretch([label(), label("prepaid_gpu")])
    assert out[0]["end"] == "2026-10-05T15:00:00Z", "six hours less the hour of tolerance"
    assert out[1]["end"] == T0


def test_pooled_seeds_stay_apart_and_merge_sums_rows() -> None:
    one = Trial(7, [label()], [alert("2026-10-05T11:00:00Z")], [], {"c1": "patient_miner"}, 10)
    two = Trial(8, [label()], [], [], {"c1": "patient_miner"}, 10)
    pool = pooled([one, two])
    assert {lab["customer_id"] for lab in pool.labels} == {"7/c1", "8/c1"}
    assert pool.alerts[0]["alert_id"].startswith("7/")
    card = score(pool.labels, pool.alerts, pool.requests, pool.scenarios_of, ())
    assert (card.rows[0].labels, card.rows[0].detected) == (2, 1)
    merged = merge([card, card])
    assert (merged.rows[0].labels, merged.rows[0].detected) == (4, 2)


def test_pooled_sums_the_replay_counts() -> None:
    one = Trial(7, [], [], [], {}, 10, 9, late=3, duplicates=1, generated_duplicates=2)
    two = Trial(8, [], [], [], {}, 20, 15, late=4, dead_letters=5, generated_duplicates=1)
    pool = pooled([one, two])
    assert (pool.events, pool.processed, pool.late) == (30, 24, 7)
    assert (pool.duplicates, pool.dead_letters) == (1, 5)
    assert pool.generated_duplicates == 3

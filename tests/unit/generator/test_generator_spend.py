"""The spend scenarios: compromised-subscription spikes and their benign look-alikes."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

import pytest

from streamwatch.core.codec import event_from_dict
from streamwatch.generator import GenerationResult, GeneratorConfig, generate
from streamwatch.generator.timefmt import HOUR_S, ceil_hour, parse_ts

SPIKES = ("spend_spike_sudden", "spend_spike_gradual")
LOOK_ALIKES = ("promotion", "month_end_batch", "weekday_onoff", "steady_growth")


@cache
def stream(*scenarios: str) -> GenerationResult:
    return generate(
        GeneratorConfig(seed=17, customers=40, days=35, incidents=scenarios, incident_rate=0.5)
    )


def hourly_spend(result: GenerationResult, customer: str) -> dict[int, float]:
    spend: dict[int, float] = defaultdict(float)
    for e in result.events:
        if e["type"] == "usage" and e["customer_id"] == customer:
            spend[parse_ts(e["ts"])] += e["cost"]
    return spend


def labels_of(result: GenerationResult, scenario: str) -> list[dict[str, Any]]:
    return [lab for lab in result.labels if lab["scenario"] == scenario]


def event_at(result: GenerationResult, label: dict[str, Any]) -> dict[str, Any]:
    """The labelled event (the one scheduled with the label)."""
    return next(
        e
        for e in result.events
        if e["customer_id"] == label["customer_id"]
        and e["ts"] == label["start"]
        and e["type"] == "activity"
        and e["operation"] not in ("signin", "vm.delete", "feedback.expect")
    )


@pytest.mark.parametrize("scenario", SPIKES + LOOK_ALIKES)
def test_each_scenario_labels_spend_spikes_benign_only_for_look_alikes(scenario: str) -> None:
    labels = labels_of(stream(*SPIKES, *LOOK_ALIKES), scenario)
    assert labels
    assert {lab["kind"] for lab in labels} == {"spend_spike"}
    assert {lab["benign"] for lab in labels} == {scenario in LOOK_ALIKES}
    assert all(lab["start"] == lab["end"] for lab in labels)


@pytest.mark.parametrize("scenario", SPIKES)
def test_attack_starts_with_a_foreign_sign_in_and_spends_from_the_next_hour(scenario: str) -> None:
    result = stream(*SPIKES)
    for label in labels_of(result, scenario):
        create = event_at(result, label)
        assert create["operation"] == "vm.create"
        assert create["region"] == label["detail"]["region"]
        signins = [
            e
            for e in result.events
            if e["customer_id"] == label["customer_id"]
            and e["type"] == "activity"
            and e["operation"] == "signin"
            and e.get("actor_ip") == create["actor_ip"]
        ]
        assert signins
        assert parse_ts(signins[0]["ts"]) < parse_ts(create["ts"])
        first_hour = ceil_hour(parse_ts(label["start"]))
        spend = hourly_spend(result, label["customer_id"])
        usual = max(v for t, v in spend.items() if t < parse_ts(label["start"]))
        assert spend[first_hour] > usual + 10.0
        assert first_hour - parse_ts(label["start"]) < HOUR_S


def test_gradual_attack_grows_step_by_step() -> None:
    result = stream(*SPIKES)
    for label in labels_of(result, "spend_spike_gradual"):
        spend = hourly_spend(result, label["customer_id"])
        start = ceil_hour(parse_ts(label["start"]))
        attack = [spend[start + h * HOUR_S] for h in range(12)]
        assert max(attack) > 1.8 * attack[0]
        assert attack == sorted(attack) or max(attack) > attack[0]


def test_announced_promotions_carry_valid_feedback_events() -> None:
    result = stream(*LOOK_ALIKES)
    announced = [lab for lab in labels_of(result, "promotion") if lab["detail"]["announced"]]
    assert announced
    for label in announced:
        feedback = [
            e
            for e in result.events
            if e["customer_id"] == label["customer_id"]
            and e["type"] == "activity"
            and e["operation"] == "feedback.expect"
        ]
        assert len(feedback) == 1
        event = event_from_dict(feedback[0])
        assert event.properties["factor"] > label["detail"]["factor"]
        assert parse_ts(event.properties["until"]) > parse_ts(label["start"])


def test_promotion_multiplies_the_spend_of_its_days_and_labels_each_hour() -> None:
    result = stream(*LOOK_ALIKES)
    starts: dict[str, list[int]] = defaultdict(list)
    for label in labels_of(result, "promotion"):
        starts[label["customer_id"]].append(parse_ts(label["start"]))
    assert starts
    for customer, hours in starts.items():
        assert hours == list(range(hours[0], hours[-1] + HOUR_S, HOUR_S))
        spend = hourly_spend(result, customer)
        week_before = [spend[t - 7 * 24 * HOUR_S] for t in hours]
        assert sum(spend[t] for t in hours) > 1.5 * sum(week_before)


def test_month_end_windows_are_labelled_every_hour_where_the_batch_runs() -> None:
    result = stream(*LOOK_ALIKES)
    by_customer: dict[str, list[int]] = defaultdict(list)
    for label in labels_of(result, "month_end_batch"):
        assert label["start"][:10] in ("2026-10-30", "2026-10-31", "2026-11-29", "2026-11-30")
        by_customer[label["customer_id"]].append(parse_ts(label["start"]))
    assert by_customer
    for customer, hours in by_customer.items():
        assert hours == sorted(hours)
        spend = hourly_spend(result, customer)
        for t in hours:
            assert spend[t] > 2.0 * spend[t - 3 * 24 * HOUR_S]


def test_weekday_workload_is_labelled_on_monday_mornings() -> None:
    result = stream(*LOOK_ALIKES)
    labels = labels_of(result, "weekday_onoff")
    assert labels
    for label in labels:
        create = event_at(result, label)
        assert create["operation"] == "vm.start"


def test_steady_growth_is_labelled_once_at_its_start() -> None:
    result = stream(*LOOK_ALIKES)
    labels = labels_of(result, "steady_growth")
    assert len({lab["customer_id"] for lab in labels}) == len(labels)


def test_spend_scenarios_are_deterministic() -> None:
    config = GeneratorConfig(seed=3, customers=8, days=10, incidents=SPIKES + LOOK_ALIKES,
                             incident_rate=1.0)  # fmt: skip
    first, second = generate(config), generate(config)
    assert first.events == second.events
    assert first.labels == second.labels

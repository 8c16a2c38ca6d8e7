"""The scenario registry, incident assignment and the provider_notice scenario."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from streamwatch.generator import (
    SCENARIOS,
    GeneratorConfig,
    generate,
    register_scenario,
)
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios import assign_incidents
from streamwatch.generator.stream import build_plans


@pytest.mark.parametrize(
    ("customers", "rate", "expected"),
    [
        pytest.param(50, 0.2, 10, id="a-fifth-of-fifty"),
        pytest.param(7, 0.5, 4, id="rounded"),
        pytest.param(10, 0.0, 0, id="none"),
        pytest.param(10, 1.0, 10, id="everyone"),
        pytest.param(0, 0.5, 0, id="no-customers"),
    ],
)
def test_incidents_go_to_a_rounded_share_of_customers(
    customers: int, rate: float, expected: int
) -> None:
    names = ("budget_overrun", "provider_notice")
    chosen = assign_incidents(7, customers, names, rate)
    assert len(chosen) == expected
    counts = Counter(chosen.values())
    assert abs(counts["budget_overrun"] - counts["provider_notice"]) <= 1


def test_incident_assignment_is_deterministic_and_seeded() -> None:
    names = ("budget_overrun",)
    assert assign_incidents(1, 100, names, 0.2) == assign_incidents(1, 100, names, 0.2)
    assert assign_incidents(1, 100, names, 0.2) != assign_incidents(2, 100, names, 0.2)


def test_registering_a_taken_name_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_scenario("provider_notice")(lambda plan, rng: None)


def test_provider_notice_label_matches_its_notice_event() -> None:
    result = generate(
        GeneratorConfig(
            seed=5, customers=20, days=20, incidents=("provider_notice",), incident_rate=0.5
        )
    )
    notices = {
        (e["customer_id"], e["ts"]): e
        for e in result.events
        if e.get("operation") == "provider.notice"
    }
    labels = [lab for lab in result.labels if lab["kind"] == "provider_notice"]
    assert len(labels) == len(notices) == 10
    for lab in labels:
        event = notices[(lab["customer_id"], lab["start"])]
        assert lab["end"] == lab["start"]
        assert lab["scenario"] == "provider_notice"
        assert lab["benign"] is False
        assert lab["detail"] == {
            "category": event["properties"]["category"],
            "action_required": event["properties"]["action_required"],
        }
        assert event["actor"] == "provider"
        assert event["status"] == "succeeded"
        assert event["properties"]["severity"] in {"high", "medium"}


def test_scenarios_touch_only_their_customers() -> None:
    plain = GeneratorConfig(seed=9, customers=20, days=15, incident_rate=0.0)
    spiced = GeneratorConfig(seed=9, customers=20, days=15, incident_rate=0.3)
    touched = {p.customer_id for p in build_plans(spiced) if p.scenarios}
    assert len(touched) == 6
    before = [e for e in generate(plain).events if e["customer_id"] not in touched]
    after = [e for e in generate(spiced).events if e["customer_id"] not in touched]
    assert before == after


def test_a_new_scenario_plugs_in_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def tag_storm(plan: CustomerPlan, rng: random.Random) -> None:
        ts = plan.signup_s + rng.randrange(3600, 7200)
        plan.activity(
            ts, "tag.update", {"tags": 3}, label=LabelSpec("other", "tag_storm", {"tags": 3})
        )

    monkeypatch.setitem(SCENARIOS, "tag_storm", tag_storm)
    result = generate(
        GeneratorConfig(seed=3, customers=10, days=5, incidents=("tag_storm",), incident_rate=0.3)
    )
    tagged = [e for e in result.events if e.get("operation") == "tag.update"]
    labels = [lab for lab in result.labels if lab["scenario"] == "tag_storm"]
    assert len(tagged) == len(labels) == 3
    assert {(e["customer_id"], e["ts"]) for e in tagged} == {
        (lab["customer_id"], lab["start"]) for lab in labels
    }

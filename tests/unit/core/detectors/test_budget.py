"""``budget_threshold``: the rule in the module docstring of streamwatch.core.detectors.budget."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.budget import BudgetDetector, BudgetState
from streamwatch.core.engine import Core
from streamwatch.core.events import Event
from streamwatch.core.timeutil import month_bounds_ms, parse_ts_ms
from streamwatch.testing import (
    activity_event,
    budget_set_event,
    default_policy,
    run_core,
    ts,
    usage_event,
)

OCT_START, OCT_END = month_bounds_ms("2026-10")


def observe_all(events: list[Event], state: BudgetState | None = None) -> list[list[Finding]]:
    """The findings of each event in turn, on one state."""
    detector = BudgetDetector()
    state = state if state is not None else detector.new_state()
    return [detector.observe(state, event) for event in events]


def labels(findings: list[Finding]) -> list[str]:
    return [f.evidence["threshold"] for f in findings]


def spend_stream(costs: list[float], budget: float = 1000, start_day: int = 1) -> list[Event]:
    """A budget set on October 1st, then one usage per hour with the given costs."""
    events: list[Event] = [budget_set_event(budget, event_id="b-1", at=ts(1))]
    for i, cost in enumerate(costs):
        events.append(usage_event(event_id=f"u-{i}", at=ts(start_day, 1 + i), cost=cost))
    return events


@pytest.mark.parametrize(
    ("costs", "expected"),
    [
        pytest.param([400, 100, 300, 200], [[], ["50%"], ["80%"], ["100%"]], id="one-per-step"),
        pytest.param([499.5, 0.5], [[], ["50%"]], id="reaching-exactly-fires"),
        pytest.param([499.5, 0.25], [[], []], id="just-short-does-not"),
        pytest.param([1000], [["50%", "80%", "100%"]], id="all-in-one-event"),
        pytest.param([850, 1], [["50%", "80%"], []], id="two-in-one-event"),
        pytest.param([600, 10, 10, 500, 500], [["50%"], [], [], ["80%", "100%"], []],
                     id="each-once"),
        pytest.param([0, 0, 0], [[], [], []], id="zero-cost"),
    ],
)  # fmt: skip
def test_thresholds_fire_once_each_at_the_usage_that_reaches_them(
    costs: list[float], expected: list[list[str]]
) -> None:
    per_event = observe_all(spend_stream(costs))
    assert per_event[0] == []
    assert [labels(f) for f in per_event[1:]] == expected


def test_crossing_is_stamped_with_the_exact_event_time() -> None:
    events = spend_stream([400, 100, 300, 200])
    per_event = observe_all(events)
    for event, findings in zip(events, per_event, strict=True):
        for finding in findings:
            assert finding.event_time_ms == event.ts_ms
            assert (finding.window_start_ms, finding.window_end_ms) == (OCT_START, OCT_END)


def test_crossing_alert_event_time_is_the_usage_ts_through_the_engine() -> None:
    events = spend_stream([400, 100, 300, 200])
    alerts = run_core(Core(policy=default_policy()), events).alerts
    assert [(a.evidence["threshold"], a.event_time) for a in alerts] == [
        ("50%", events[2].ts),
        ("80%", events[3].ts),
        ("100%", events[4].ts),
    ]
    assert [(a.severity, a.score) for a in alerts] == [
        ("info", 0.1),
        ("low", 0.3),
        ("medium", 0.6),
    ]


@pytest.mark.parametrize(
    ("spend_before", "expected"),
    [
        pytest.param(400, [], id="below-50"),
        pytest.param(500, ["50%"], id="exactly-50"),
        pytest.param(850, ["50%", "80%"], id="past-80"),
        pytest.param(1200, ["50%", "80%", "100%"], id="past-100"),
    ],
)
def test_budget_set_after_spend_fires_passed_thresholds_at_the_budget_set_time(
    spend_before: float, expected: list[str]
) -> None:
    setting = budget_set_event(1000, event_id="b-1", at=ts(2, 9))
    per_event = observe_all([usage_event(event_id="u-1", at=ts(1), cost=spend_before), setting])
    assert per_event[0] == []
    assert labels(per_event[1]) == expected
    assert all(f.event_time_ms == setting.ts_ms for f in per_event[1])


@pytest.mark.parametrize(
    ("currency", "fires"),
    [
        pytest.param("USD", True, id="budget-currency"),
        pytest.param("EUR", False, id="other-currency"),
        pytest.param("GBP", False, id="another-currency"),
    ],
)
def test_only_spend_in_the_budget_currency_counts(currency: str, fires: bool) -> None:
    events = [
        budget_set_event(1000, "USD", event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(1, 1), cost=5000, currency=currency),
    ]
    assert bool(observe_all(events)[1]) is fires


def test_other_currency_spend_does_not_add_to_budget_currency_spend() -> None:
    events = [
        budget_set_event(1000, "USD", event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(1, 1), cost=450, currency="EUR"),
        usage_event(event_id="u-2", at=ts(1, 2), cost=450, currency="USD"),
        usage_event(event_id="u-3", at=ts(1, 3), cost=50, currency="USD"),
    ]
    per_event = observe_all(events)
    assert [labels(f) for f in per_event] == [[], [], [], ["50%"]]
    assert per_event[3][0].evidence["spend"] == 500.0


def test_no_budget_means_no_findings() -> None:
    events = [usage_event(event_id=f"u-{i}", at=ts(5, i), cost=10_000) for i in range(5)]
    assert observe_all(events) == [[]] * 5


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param(budget_set_event(0, event_id="b"), id="zero-amount"),
        pytest.param(budget_set_event(-10, event_id="b"), id="negative-amount"),
        pytest.param(budget_set_event("1000", event_id="b"), id="string-amount"),
        pytest.param(budget_set_event(True, event_id="b"), id="boolean-amount"),
        pytest.param(budget_set_event(1000, None, event_id="b"), id="no-currency"),
        pytest.param(budget_set_event(1000, event_id="b", status="failed"), id="failed-operation"),
        pytest.param(
            activity_event(
                "budget.delete", event_id="b", properties={"amount": 1, "currency": "USD"}
            ),
            id="other-operation",
        ),
    ],
)
def test_invalid_or_failed_budget_set_sets_no_budget(setting: Event) -> None:
    per_event = observe_all([setting, usage_event(event_id="u-1", at=ts(2), cost=5000)])
    assert per_event == [[], []]


def test_new_month_rearms_the_thresholds() -> None:
    events = [
        budget_set_event(100, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(2), cost=60),
        usage_event(event_id="u-2", at=ts(31, 23, 59, 59), cost=40),
        usage_event(event_id="u-3", at=ts(1, month=11), cost=60),
    ]
    per_event = observe_all(events)
    assert [labels(f) for f in per_event] == [[], ["50%"], ["80%", "100%"], ["50%"]]
    november = per_event[3][0]
    assert november.incident == "2026-11/50%"
    assert november.evidence["month"] == "2026-11"
    assert november.evidence["spend"] == 60.0
    assert november.window_start_ms == parse_ts_ms(ts(1, month=11))


def test_new_month_alert_has_its_own_id() -> None:
    events = [
        budget_set_event(100, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(2), cost=60),
        usage_event(event_id="u-2", at=ts(2, month=11), cost=60),
    ]
    alerts = run_core(Core(), events).alerts
    assert len(alerts) == 2
    assert alerts[0].alert_id != alerts[1].alert_id


# --- forecast -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "cost", "fires"),
    [
        pytest.param(ts(3, 23, 59, 59), 500, False, id="before-three-days"),
        pytest.param(ts(4), 500, True, id="exactly-three-days"),
        pytest.param(ts(4), 96, False, id="projection-under-budget"),
        pytest.param(ts(4), 97, True, id="projection-just-over-budget"),
        pytest.param(ts(20), 700, True, id="late-in-month"),
        pytest.param(ts(20), 600, False, id="late-in-month-on-track"),
    ],
)
def test_forecast_fires_from_three_days_into_the_month_when_projection_exceeds_budget(
    at: str, cost: float, fires: bool
) -> None:
    # October has 31 days: at day d the projection is spend * 31 / elapsed days.
    per_event = observe_all(
        [budget_set_event(1000, event_id="b-1", at=ts(1)), usage_event(at=at, cost=cost)]
    )
    assert ("forecast" in labels(per_event[1])) is fires


def test_forecast_projection_equal_to_budget_does_not_fire() -> None:
    # November has 30 days; 3 days in, the projection is exactly ten times the spend.
    events = [
        budget_set_event(1000, event_id="b-1", at=ts(1, month=11)),
        usage_event(event_id="u-1", at=ts(4, month=11), cost=100),
        usage_event(event_id="u-2", at=ts(4, 0, 0, 1, month=11), cost=0.01),
    ]
    assert [labels(f) for f in observe_all(events)] == [[], [], ["forecast"]]


def test_forecast_fires_once_per_month() -> None:
    events = [
        budget_set_event(1000, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(4), cost=200),
        usage_event(event_id="u-2", at=ts(5), cost=10),
        usage_event(event_id="u-3", at=ts(6), cost=10),
    ]
    assert [labels(f) for f in observe_all(events)] == [[], ["forecast"], [], []]


@pytest.mark.parametrize(
    ("costs", "expected"),
    [
        pytest.param([1000, 1], [["50%", "80%", "100%"], []], id="crossed-100-in-same-event"),
        pytest.param([1200], [["50%", "80%", "100%"]], id="over-budget"),
        pytest.param([200, 800], [["forecast"], ["50%", "80%", "100%"]], id="forecast-first"),
    ],
)
def test_forecast_only_before_100_percent(costs: list[float], expected: list[list[str]]) -> None:
    per_event = observe_all(spend_stream(costs, start_day=5))
    assert [labels(f) for f in per_event[1:]] == expected


def test_forecast_finding_explains_the_projection() -> None:
    events = [
        budget_set_event(1000, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(4), cost=300),
    ]
    (finding,) = observe_all(events)[1]
    projected = 300 * 31 / 3
    assert finding.incident == "2026-10/forecast"
    assert (finding.severity, finding.score) == ("low", 0.3)
    assert finding.evidence == {
        "month": "2026-10",
        "threshold": "forecast",
        "spend": 300.0,
        "projected": round(projected, 2),
        "budget": 1000.0,
        "currency": "USD",
    }
    (reason,) = finding.reasons
    for text in ("$300.00", "3.0 days", "$3,100.00", "310%", "$1,000.00", "$2,100.00 over"):
        assert text in reason, (text, reason)


# --- explanations and evidence ------------------------------------------------------------


def test_threshold_reason_states_spend_share_budget_line_and_time() -> None:
    events = spend_stream([512.5])
    (finding,) = observe_all(events)[1]
    (reason,) = finding.reasons
    for text in ("2026-10", "$512.50", "51%", "$1,000.00", "50%", events[1].ts):
        assert text in reason, (text, reason)
    assert finding.evidence == {
        "month": "2026-10",
        "threshold": "50%",
        "spend": 512.5,
        "budget": 1000.0,
        "currency": "USD",
        "used": 0.5125,
    }


def test_reason_uses_the_currency_code_without_a_symbol() -> None:
    events = [
        budget_set_event(2000, "CHF", event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(1, 1), cost=1500, currency="CHF"),
    ]
    (finding,) = observe_all(events)[1]
    assert "1,500.00 CHF" in finding.reasons[0]
    assert "2,000.00 CHF" in finding.reasons[0]


def test_finding_names_the_subscriptions_spending_this_month() -> None:
    events = [
        budget_set_event(100, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(1, 1), cost=10, subscription_id="sub-a"),
        usage_event(event_id="u-2", at=ts(1, 2), cost=10, subscription_id="sub-b"),
        usage_event(event_id="u-3", at=ts(1, 3), cost=30, subscription_id="sub-a"),
    ]
    (finding,) = observe_all(events)[3]
    assert finding.subscription_ids == ("sub-a", "sub-b")


def test_thresholds_fire_when_cent_costs_reach_them_exactly() -> None:
    # Ten charges of $0.10 against a $1.00 budget reach 50% at the 5th, 80% at the 8th and
    # 100% at the 10th; binary floating point sums 0.1 eight times to 0.7999999999999999.
    per_event = observe_all(spend_stream([0.10] * 10, budget=1.0))
    fired_at = {label: i + 1 for i, f in enumerate(per_event[1:]) for label in labels(f)}
    assert fired_at == {"50%": 5, "80%": 8, "100%": 10}


def test_dump_and_load_round_trip_the_state() -> None:
    detector = BudgetDetector()
    state = detector.new_state()
    observe_all(spend_stream([100, 900]), state)
    loaded = detector.load(detector.dump(state))
    assert loaded == state
    assert loaded is not state


def test_dump_leaves_out_month_bounds_and_load_reads_the_earlier_forms() -> None:
    detector = BudgetDetector()
    state = detector.new_state()
    observe_all(spend_stream([100, 900]), state)
    dumped = detector.dump(state)
    assert all(
        set(fields) == {"spend", "fired", "subscriptions", "recent", "crossed", "covered"}
        for fields in dumped["months"].values()
    )
    version_1 = {
        key: [m["spend"], m["fired"], m["subscriptions"]] for key, m in dumped["months"].items()
    }
    assert detector.load(dumped) == state
    # Earlier forms have no hours kept nor crossing times: they load as none.
    state = replace_months(state, recent={}, crossed={}, covered={})
    assert detector.load({**dumped, "months": version_1}) == state
    earlier = {
        **dumped,
        "months": {key: [m.start_ms, m.end_ms, *version_1[key]] for key, m in state.months.items()},
    }
    assert detector.load(earlier) == state


def replace_months(state: BudgetState, **fields: Any) -> BudgetState:
    return dataclasses.replace(
        state,
        months={k: dataclasses.replace(m, **fields) for k, m in state.months.items()},
    )


def test_a_line_crossed_by_late_usage_is_stamped_at_its_event_time_and_amended_earlier() -> None:
    events: list[Event] = [budget_set_event(1000, event_id="b-1", at=ts(1))]
    # Ten hours of $100, delivered as billing data is: hours 1-3, then 6-10, then 4-5.
    order = [1, 2, 3, 6, 7, 8, 9, 10, 4, 5]
    events += [usage_event(event_id=f"u-{h}", at=ts(1, h), cost=100) for h in order]
    findings = [f for out in observe_all(events) for f in out]
    times = {}
    for finding in findings:
        times.setdefault(finding.evidence["threshold"], []).append(finding.event_time_ms)
    # In arrival order $500 is reached on hour 7's row (1+2+3+6+7), $800 on hour 10's; as
    # hours 4 and then 5 arrive, counting in event-time order moves each line an hour earlier,
    # to where the whole stream puts them: 50% in hour 5, 80% in hour 8, 100% in hour 10.
    hours = {line: [ms // 3_600_000 % 24 for ms in at] for line, at in times.items()}
    assert hours == {"50%": [7, 6, 5], "80%": [10, 9, 8], "100%": [10]}
    fifty = [f for f in findings if f.evidence["threshold"] == "50%"]
    assert {f.incident for f in fifty} == {"2026-10/50%"}
    assert fifty[0].reasons[0].endswith(f"it crossed 50% at {ts(1, 7)}.")
    assert fifty[1].reasons[0].endswith(f"it crossed 50% in the hour from {ts(1, 6)}.")
    assert fifty[2].reasons[0].endswith(f"it crossed 50% at {ts(1, 5)}.")  # hour 5's own row


def forecast_hours(events: list[Event]) -> list[int]:
    """The hour of day each forecast finding is stamped at."""
    findings = [f for out in observe_all(events) for f in out]
    return [
        f.event_time_ms // 3_600_000 % 24 for f in findings if f.evidence["threshold"] == "forecast"
    ]


def test_a_forecast_crossed_by_late_usage_is_stamped_at_its_event_time_and_amended() -> None:
    # $9 an hour from October 4th 00:00 against $1,000: counted in event-time order the
    # projection (spend x 744 h / elapsed) first goes past the budget in hour 12 (117 x 744 >
    # 1000 x 84).
    def stream(order: list[int]) -> list[Event]:
        events: list[Event] = [budget_set_event(1000, event_id="b-1", at=ts(1))]
        events += [usage_event(event_id=f"u-{h}", at=ts(4, h), cost=9) for h in order]
        return events

    assert forecast_hours(stream(list(range(15)))) == [12]
    # Hours 0-4, then 8-14, then 5-7: hour 5's row makes the projection at its own hour cross,
    # but counted in event-time order (hours 6 and 7 still missing) that happened in hour 14;
    # hours 6 and 7 arriving move it to 13, then to 12, where the whole stream puts it.
    late = stream([0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 5, 6, 7])
    assert forecast_hours(late) == [14, 13, 12]
    forecasts = [f for out in observe_all(late) for f in out]
    assert {f.incident for f in forecasts} == {"2026-10/forecast"}
    assert (
        forecasts[0]
        .reasons[0]
        .endswith(
            f"Counted in event-time order the projection went past the budget in the hour from "
            f"{ts(4, 14)}."
        )
    )


def test_late_usage_of_an_early_hour_does_not_fire_a_forecast_that_no_hour_crossed() -> None:
    # As above, but hour 5's row arrives after hour 11's: added to hours 0-11 ($108) and
    # projected from hour 5 (108 x 744 / 77 h = $1,043) it seems over the budget, but counted
    # in event-time order no hour's projection is (hour 11: 108 x 744 / 83 h = $968). The
    # forecast fires at hour 12, as in event-time order, not at hour 5.
    events: list[Event] = [budget_set_event(1000, event_id="b-1", at=ts(1))]
    order = [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 5, 12, 13, 14]
    events += [usage_event(event_id=f"u-{h}", at=ts(4, h), cost=9) for h in order]
    assert forecast_hours(events) == [12]


def daily_rows(costs: dict[int, float]) -> list[Event]:
    events: list[Event] = [budget_set_event(1000, event_id="b-1", at=ts(1))]
    for day, cost in costs.items():
        events.append(usage_event(event_id=f"d-{day}", at=ts(day), cost=cost, interval_s=86_400))
    return events


def test_a_daily_rows_forecast_is_judged_up_to_its_last_hour_in_either_order() -> None:
    # Four days of $28 project to 112 x 744 / 95 h = $877 with day 4's row read up to its
    # last hour (23:00), under the budget (read at its start, 72 h, it would be over); day 5's
    # $60 takes it over (172 x 744 / 119 h = $1,075).
    in_order = daily_rows({1: 28, 2: 28, 3: 28, 4: 28, 5: 60})
    findings = [f for out in observe_all(in_order) for f in out]
    assert [(f.evidence["threshold"], f.event_time_ms) for f in findings] == [
        ("forecast", parse_ts_ms(ts(5)))
    ]
    # Day 5's row first, then day 4's: the projection crosses on day 4's row, but counted in
    # event-time order only with day 5's.
    late = daily_rows({1: 28, 2: 28, 3: 28, 5: 60, 4: 28})
    findings = [f for out in observe_all(late) for f in out]
    assert [(f.evidence["threshold"], f.event_time_ms) for f in findings] == [
        ("forecast", parse_ts_ms(ts(5)))
    ]


def test_state_keeps_at_most_two_months() -> None:
    detector = BudgetDetector()
    state: BudgetState = detector.new_state()
    for month in (9, 10, 11, 12):
        detector.observe(state, usage_event(event_id=f"u-{month}", at=ts(2, month=month)))
    assert list(state.months) == ["2026-11", "2026-12"]

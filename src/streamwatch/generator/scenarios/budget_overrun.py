"""``budget_overrun``: month spend crosses 50%, 80%, 100% of the budget and the forecast.

Two variants, drawn per customer:

* low budget: the budget is set to 0.6-0.9x the expected spend of the incident month;
* runaway: the budget stays normal, but from a point 35-60% into the incident month the
  rampable usage (compute, GPU, egress) is multiplied so that the month ends above budget.

A customer that spends next to nothing (dormant) first wakes up: a scale set appears 20-50%
into the incident month, and the low-budget variant follows.

The incident month is the month in which the customer is active longest within the horizon.
Labels are not written here: the budget rule labels every crossing of every customer.
"""

from __future__ import annotations

import random

from streamwatch.generator.archetypes import (
    BUDGET_HEADROOM,
    add_vm,
    max_monthly_cost,
    nice_amount,
)
from streamwatch.generator.plan import Budget, CustomerPlan, Ramp
from streamwatch.generator.rhythm import flat
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import (
    DAY_S,
    HOUR_S,
    ceil_hour,
    month_start,
    month_starts,
    next_month_start,
)

NAME = "budget_overrun"
RUNAWAY_SHARE = 0.4
RUNAWAY_MIN_DAYS = 6
RUNAWAY_TARGET = 1.3
"""A runaway aims to end the month at this multiple of the budget."""
MAX_FACTOR = 40.0
MIN_DAILY_SPEND = 1.0
"""Below this expected spend per day the customer counts as dormant and wakes up first."""


@register_scenario(NAME)
def budget_overrun(plan: CustomerPlan, rng: random.Random) -> None:
    """Make the customer's month spend overrun its budget (see the module docstring)."""
    plan.budget_scenario = NAME
    lo = max(plan.signup_s, plan.horizon_start_s)
    hi = plan.horizon_end_s
    windows = [
        (max(lo, m), min(hi, next_month_start(m))) for m in [month_start(lo), *month_starts(lo, hi)]
    ]
    w0, w1 = max(windows, key=lambda w: w[1] - w[0])
    first = lo + rng.randrange(HOUR_S, 24 * HOUR_S)
    set_at = plan.budgets[0].set_at_s if plan.budgets else first
    set_at = min(set_at, max(lo, w1 - HOUR_S))
    if plan.expected_cost(w0, w1) < MIN_DAILY_SPEND * (w1 - w0) / DAY_S:
        _wake_up(plan, rng, w0, w1)
    if (
        rng.random() < RUNAWAY_SHARE
        and w1 - w0 >= RUNAWAY_MIN_DAYS * DAY_S
        and _runaway(plan, rng, w0, w1, set_at)
    ):
        return
    amount = nice_amount(plan.expected_cost(w0, w1) * rng.uniform(0.6, 0.9))
    plan.budgets = [Budget(amount, plan.currency, set_at)]


def _runaway(plan: CustomerPlan, rng: random.Random, w0: int, w1: int, set_at: int) -> bool:
    amount = nice_amount(BUDGET_HEADROOM * max_monthly_cost(plan))
    start = ceil_hour(w0 + int((w1 - w0) * rng.uniform(0.35, 0.6)))
    before = plan.expected_cost(w0, start)
    after = sum(r.expected_cost(start, w1) for r in plan.resources if r.rampable)
    fixed_after = sum(r.expected_cost(start, w1) for r in plan.resources if not r.rampable)
    if after <= 0.0:
        return False
    factor = (RUNAWAY_TARGET * amount - before - fixed_after) / after
    if factor > MAX_FACTOR:
        return False
    plan.ramps.append(Ramp(start, w1, round(max(3.0, factor), 2)))
    plan.budgets = [Budget(amount, plan.currency, set_at)]
    return True


def _wake_up(plan: CustomerPlan, rng: random.Random, w0: int, w1: int) -> None:
    at = w0 + int((w1 - w0) * rng.uniform(0.2, 0.5))
    add_vm(
        plan,
        at,
        "rg-new",
        "vmss-new",
        "Standard_D4s_v5",
        "scaled",
        rng.uniform(2.0, 4.0),
        flat(),
        min_qty=1.0,
        util_base=0.8,
    )

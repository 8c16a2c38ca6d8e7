"""``promotion`` (benign look-alike of a spend spike): a sale multiplies the customer's load.

From noon (local time) on a weekday at least three days into the customer's usage, and not in
the last three days of a month, the customer's scale sets and egress (not single VMs or storage)
run 2.5-4 times harder for 2-5 days. Half of the promotions are announced the day before with
``feedback.expect`` (the account manager's "planned growth" note: factor, reason, until), as
``streamwatch expect`` records it. Labelled ``spend_spike`` with ``benign`` at the
``autoscale.update`` that starts it. Customers without a scale set serving all month (dormant
ones, ML teams, month-end-only pools) get no promotion.
"""

from __future__ import annotations

import random

from streamwatch.generator.plan import CustomerPlan, LabelSpec, Ramp
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.spend_common import SPIKE_KIND, active_span, local_time
from streamwatch.generator.timefmt import (
    DAY_S,
    HOUR_S,
    format_ts,
    local_hour_of_week,
    next_month_start,
)

NAME = "promotion"
ANNOUNCED_SHARE = 0.5
OWNER = "account.manager@reseller.example"


@register_scenario(NAME)
def promotion(plan: CustomerPlan, rng: random.Random) -> None:
    """Schedule the promotion described in the module docstring, if the stream has room."""
    if not any(r.mode == "scaled" and not r.month_end_only for r in plan.resources):
        return
    days = rng.randint(2, 5)
    lo, hi = active_span(plan)
    lo += 3 * DAY_S
    if hi - days * DAY_S - DAY_S <= lo:
        return
    day = lo + rng.randrange(hi - days * DAY_S - DAY_S - lo)
    start = local_time(plan, day, 12)
    while (
        start < lo
        or local_hour_of_week(start, plan.country.utc_offset_h) >= 5 * 24
        or start >= next_month_start(start) - 3 * DAY_S
    ):
        start += DAY_S
    end = start + days * DAY_S
    if end + HOUR_S > hi:
        return
    factor = round(rng.uniform(2.5, 4.0), 2)
    for res in plan.resources:
        if res.mode not in ("scaled", "flow"):
            res.rampable = False
    plan.ramps.append(Ramp(start, end, factor))
    announced = rng.random() < ANNOUNCED_SHARE
    if announced:
        plan.activity(
            start - DAY_S,
            "feedback.expect",
            {"until": format_ts(end + DAY_S), "reason": "promotion", "factor": factor + 1.0},
            actor=OWNER,
            actor_ip=None,
        )
    label = LabelSpec(
        SPIKE_KIND, NAME, {"factor": factor, "days": days, "announced": announced}, benign=True
    )
    # The autoscaler reports each hour of the sale; each report is labelled, so that an alert
    # at any hour of the surge matches it.
    for at in range(start, end, HOUR_S):
        plan.activity(
            at,
            "autoscale.update",
            {"reason": "promotion", "factor": factor, "days": days},
            label=label,
        )

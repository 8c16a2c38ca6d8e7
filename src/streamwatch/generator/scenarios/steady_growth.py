"""``steady_growth`` (benign look-alike of a spend spike): a business that grows fast.

Everything that scales all month (scale sets and egress; not single VMs, storage or month-end
pools) grows 2-4% a day, compounding, from onboarding (over a month, 1.8 to 3.2 times).
Labelled ``spend_spike`` with ``benign`` at a ``capacity.plan`` activity an hour after the first
usage; a detector should follow the growth and stay quiet.
"""

from __future__ import annotations

import random

from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.spend_common import SPIKE_KIND, active_span
from streamwatch.generator.timefmt import HOUR_S

NAME = "steady_growth"


@register_scenario(NAME)
def steady_growth(plan: CustomerPlan, rng: random.Random) -> None:
    """Make every all-month scale set and egress meter grow by the same daily rate."""
    rate = round(rng.uniform(0.02, 0.04), 4)
    for res in plan.resources:
        if res.mode in ("scaled", "flow") and not res.month_end_only:
            res.growth_per_day = rate
    lo, hi = active_span(plan)
    if lo + HOUR_S < hi:
        plan.activity(
            lo + HOUR_S,
            "capacity.plan",
            {"growth_per_day": rate},
            label=LabelSpec(SPIKE_KIND, NAME, {"growth_per_day": rate}, benign=True),
        )

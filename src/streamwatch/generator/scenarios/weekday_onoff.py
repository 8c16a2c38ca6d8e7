"""``weekday_onoff`` (benign look-alike of a spend spike): a workload that runs office hours.

3-8 large VMs created at onboarding run 08:00-18:00 local time on weekdays and are off at night
and at weekends, so each Monday morning spend jumps from the weekend's level. Labelled
``spend_spike`` with ``benign`` at a ``vm.start`` activity each Monday 08:00 (local) within the
stream.
"""

from __future__ import annotations

import random

from streamwatch.generator.archetypes import add_vm
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.rhythm import office_hours
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.spend_common import SPIKE_KIND, active_span, local_time
from streamwatch.generator.timefmt import DAY_S, local_hour_of_week

NAME = "weekday_onoff"


@register_scenario(NAME)
def weekday_onoff(plan: CustomerPlan, rng: random.Random) -> None:
    """Add the office-hours workload and label its Monday mornings."""
    lo, hi = active_span(plan)
    count = rng.randint(3, 8)
    sku = rng.choice(("Standard_D8s_v5", "Standard_E8s_v5"))
    add_vm(
        plan, lo + 5 * 60, "rg-office", "vmss-office", sku, "fixed", float(count),
        office_hours(8, 18), util_base=0.6,
    )  # fmt: skip
    day = lo - lo % DAY_S
    while day < hi:
        at = local_time(plan, day, 8)
        if lo < at < hi and local_hour_of_week(at, plan.country.utc_offset_h) == 8:
            plan.activity(
                at,
                "vm.start",
                {"schedule": "weekdays 08:00-18:00"},
                label=LabelSpec(SPIKE_KIND, NAME, {"count": count, "sku": sku}, benign=True),
            )
        day += DAY_S

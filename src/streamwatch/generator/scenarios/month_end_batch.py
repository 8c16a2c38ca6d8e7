"""``month_end_batch`` (benign look-alike of a spend spike): a reporting job at month end.

A scale set of 6-16 compute-optimised VMs in the home region, created at onboarding, runs around
the clock in the last two (UTC) days of every month (customers of the enterprise_batch
archetype already have one). Labelled ``spend_spike`` with ``benign`` at the job's ``batch.start``
and hourly ``batch.checkpoint`` activities through each month-end window within the stream.
"""

from __future__ import annotations

import random

from streamwatch.generator.archetypes import add_vm
from streamwatch.generator.plan import MONTH_END_DAYS, CustomerPlan, LabelSpec
from streamwatch.generator.rhythm import flat
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.spend_common import SPIKE_KIND, active_span
from streamwatch.generator.timefmt import DAY_S, HOUR_S, month_starts

NAME = "month_end_batch"


@register_scenario(NAME)
def month_end_batch(plan: CustomerPlan, rng: random.Random) -> None:
    """Add the month-end job (unless there is one) and label each of its windows."""
    lo, hi = active_span(plan)
    if not any(r.month_end_only for r in plan.resources):
        add_vm(
            plan,
            lo + 10 * 60,
            "rg-report",
            "vmss-monthend",
            "Standard_F16s_v2",
            "scaled",
            rng.uniform(6.0, 16.0),
            flat(),
            month_end_only=True,
            util_base=0.9,
        )
    label = LabelSpec(SPIKE_KIND, NAME, {"job": "month-end close"}, benign=True)
    for month in month_starts(lo, hi + MONTH_END_DAYS * DAY_S):
        window = month - MONTH_END_DAYS * DAY_S
        for at in range(window, month, HOUR_S):
            if lo <= at < hi:
                operation = "batch.start" if at == window else "batch.checkpoint"
                plan.activity(at, operation, {"job": "month-end close"}, label=label)

"""``provider_notice``: the cloud provider tells the reseller about one of its customers.

One ``provider.notice`` activity (actor "provider", no IP) at a random time in the customer's
life within the horizon, labelled ``provider_notice`` at that instant with the category and the
action the provider requires.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import HOUR_S

NAME = "provider_notice"
CATEGORIES: Final = ("aup.crypto_mining", "aup.spam", "aup.ddos", "fraud.payment")
SEVERITIES: Final = ("high", "medium")
ACTIONS: Final = ("suspend", "restrict", "none")


@register_scenario(NAME)
def provider_notice(plan: CustomerPlan, rng: random.Random) -> None:
    """Schedule one labelled provider notice for the customer."""
    lo = max(plan.signup_s, plan.horizon_start_s) + HOUR_S
    hi = plan.horizon_end_s
    if lo >= hi:
        lo = max(plan.signup_s, plan.horizon_start_s)
    ts = lo + rng.randrange(max(1, hi - lo))
    category = rng.choice(CATEGORIES)
    action = rng.choice(ACTIONS)
    plan.activity(
        ts,
        "provider.notice",
        {
            "notice_id": f"PN-{hex_token(rng, 12)}",
            "category": category,
            "severity": rng.choice(SEVERITIES),
            "action_required": action,
        },
        actor="provider",
        actor_ip=None,
        label=LabelSpec(NAME, NAME, {"category": category, "action_required": action}),
    )

"""``company_proxy`` (look-alike): colleagues open accounts behind their office's proxy.

The customer's colleagues open 2-5 further accounts (``<customer>-1`` ...) over the following
weeks, 2 to 10 days apart, now and then two on one day (30%: 20-90 minutes after the previous
one). All sign up from the company's one IP address with the company's own e-mail domain and
verified phones, each from a device and with a credit card of its own. Sharing the IP is all
they have in common with a bot burst; each account's sign-up is labelled ``bot_signup`` as a
benign look-alike (detail: company, size, member number).
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.ring_kit import (
    KIND,
    Identity,
    new_account,
    onboard,
    reidentify,
    signup_times,
)
from streamwatch.generator.timefmt import DAY_S

NAME: Final = "company_proxy"


@register_scenario(NAME)
def company_proxy(plan: CustomerPlan, rng: random.Random) -> None:
    """Add the customer's colleagues behind one proxy (see the module docstring)."""
    size = rng.randint(3, 6)
    gaps = [
        rng.randint(20, 90) * 60 if rng.random() < 0.3 else rng.randint(2, 10) * DAY_S
        for _ in range(size - 1)
    ]
    times = signup_times(plan.signup_s, gaps, plan.horizon_end_s)
    for n, signup_s in enumerate(times):
        who = Identity(
            email_domain=plan.email_domain,
            phone_verified=True,
            device=hex_token(rng, 32),
            ip=plan.actor_ip,
            card=hex_token(rng, 24),
        )
        detail = {"company": plan.customer_id, "size": len(times), "member": n}
        label = LabelSpec(KIND, NAME, detail, benign=True)
        if n == 0:
            reidentify(plan, who, label)
            continue
        account = new_account(plan, n, signup_s, rng)
        onboard(account, who, rng, label)
        plan.companions.append(account)

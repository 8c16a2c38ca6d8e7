"""``signup_burst``: a bot opens 4-10 accounts from one IP address within an hour.

The customer becomes the burst's first account; the others (``<customer>-1`` ...) follow it
1 to 10 minutes apart (the whole burst within 55 minutes), each with a device fingerprint of
its own (the bot varies it), mostly a throw-away e-mail domain (80%, else free webmail), an
unverified phone (70%), and half of them a prepaid card of their own. Only the shared IP and
the pace link them. Every account is labelled ``bot_signup`` from its sign-up until the last
one; ``formed`` in the detail is the third sign-up, when the pace becomes visible (detail:
burst, size, member number, formed).
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.ring_kit import (
    DISPOSABLE_DOMAINS,
    FREE_DOMAINS,
    KIND,
    Identity,
    new_account,
    onboard,
    reidentify,
    signup_times,
)
from streamwatch.generator.timefmt import format_ts

NAME: Final = "signup_burst"
VISIBLE_AT: Final = 3
"""The sign-up from which on a burst is told apart from a shared office IP."""


@register_scenario(NAME)
def signup_burst(plan: CustomerPlan, rng: random.Random) -> None:
    """Turn the customer into the first account of a burst (see the module docstring)."""
    size = rng.randint(4, 10)
    most = max(1, min(10, 55 // (size - 1)))
    gaps = [rng.randint(1, most) * 60 for _ in range(size - 1)]
    times = signup_times(plan.signup_s, gaps, plan.horizon_end_s)
    if len(times) < VISIBLE_AT:
        return  # the stream ends before the burst shows
    formed = times[VISIBLE_AT - 1]
    for n, signup_s in enumerate(times):
        prepaid = rng.random() < 0.5
        who = Identity(
            email_domain=rng.choice(DISPOSABLE_DOMAINS if rng.random() < 0.8 else FREE_DOMAINS),
            phone_verified=rng.random() >= 0.7,
            device=hex_token(rng, 32),
            ip=plan.actor_ip,
            card=hex_token(rng, 24) if prepaid or n == 0 else None,
            card_type="prepaid_card" if prepaid else "credit_card",
        )
        detail = {
            "burst": plan.customer_id,
            "size": len(times),
            "member": n,
            "formed": format_ts(formed),
        }
        label = LabelSpec(KIND, NAME, detail, end_s=max(signup_s, formed, times[-1]))
        if n == 0:
            reidentify(plan, who, label)
            continue
        account = new_account(plan, n, signup_s, rng)
        onboard(account, who, rng, label)
        plan.companions.append(account)

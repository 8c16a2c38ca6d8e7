"""``fraud_ring``: 3-8 accounts opened within hours by one operator, sharing a device or a card.

The customer becomes the ring's first account; the others (``<customer>-1`` ...) follow it 5 to
90 minutes apart. They share the operator's device fingerprint (40%), one card (30%) or both;
each mostly uses a throw-away e-mail domain (70%, else free webmail), often leaves its phone
unverified (60%) and pays by prepaid card (70%); a third of the rings also sign up from one IP,
the others through residential proxies (an IP each). Every account is labelled ``bot_signup``
from its sign-up until the ring's last account has joined: each link key (device, card, IP)
makes a ring of its own, found as it forms. ``formed`` in the detail is when the ring first
becomes visible (the second sign-up when the device is shared, else the second time the card
is added), so that a test can ask for more than the label (detail: ring, link, size, member
number, formed).
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
    card_delay,
    new_account,
    onboard,
    random_ip,
    reidentify,
    scheduled_card_time,
    signup_times,
)
from streamwatch.generator.timefmt import format_ts

NAME: Final = "fraud_ring"
LINKS: Final = (("device", 0.4), ("card", 0.3), ("both", 0.3))


@register_scenario(NAME)
def fraud_ring(plan: CustomerPlan, rng: random.Random) -> None:
    """Turn the customer into the first account of a ring (see the module docstring)."""
    link = rng.choices([name for name, _ in LINKS], weights=[w for _, w in LINKS])[0]
    size = rng.randint(3, 8)
    gaps = [rng.randint(5, 90) * 60 for _ in range(size - 1)]
    times = signup_times(plan.signup_s, gaps, plan.horizon_end_s)
    if len(times) < 2:
        return  # the stream ends before a second account could join: no ring
    device, card, shared_ip = hex_token(rng, 32), hex_token(rng, 24), random_ip(plan, rng)
    one_ip = rng.random() < 1 / 3
    identities = [
        Identity(
            email_domain=rng.choice(DISPOSABLE_DOMAINS if rng.random() < 0.7 else FREE_DOMAINS),
            phone_verified=rng.random() >= 0.6,
            device=device if link in ("device", "both") else hex_token(rng, 32),
            ip=shared_ip if one_ip else random_ip(plan, rng),
            card=card if link in ("card", "both") else hex_token(rng, 24),
            card_type="prepaid_card" if rng.random() < 0.7 else "credit_card",
        )
        for _ in times
    ]
    first_card = scheduled_card_time(plan)
    card_times = [first_card if first_card is not None else times[0] + card_delay(rng)]
    card_times += [t + card_delay(rng) for t in times[1:]]
    formed = times[1] if link != "card" else sorted(card_times)[1]
    complete = max(times[-1], *(t for t in card_times if t is not None))
    for n, (signup_s, who) in enumerate(zip(times, identities, strict=True)):
        detail = {
            "ring": plan.customer_id,
            "link": link,
            "size": len(times),
            "member": n,
            "formed": format_ts(formed),
        }
        label = LabelSpec(KIND, NAME, detail, end_s=max(signup_s, formed, complete))
        if n == 0:
            reidentify(plan, who, label)
            continue
        account = new_account(plan, n, signup_s, rng)
        onboard(account, who, rng, label, card_times[n])
        plan.companions.append(account)

"""``identity_mismatch``: a sign-up under a false identity; ``traveller_signin``: its
look-alike, a user signing in from abroad on a trip.

``identity_mismatch``: a new account whose sign-up does not hold together, by two to four of:
an email at a disposable-address service, an unverified phone, a sign-up IP in another country
than the declared one, a billing country (of the card added minutes later) other than the
declared one. Whoever runs it signs in from that other country, never from the declared one.
Labelled ``identity_mismatch`` at the sign-up (detail: the signals, declared and actual
country); everything needed is known within minutes.

``traveller_signin``: a user of an ordinary customer travels for one to four days, a few days
into the customer's life, and signs in once or twice a day from there. Labelled benign at the
first sign-in abroad.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.abuse_kit import (
    DISPOSABLE_DOMAINS,
    abroad,
    active_from,
    ip_in,
    pick_time,
    signins,
)
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S

KIND: Final = "identity_mismatch"
TRAVELLER: Final = "traveller_signin"
COMBOS: Final = (
    ("disposable_email", "phone_unverified"),
    ("disposable_email", "signup_ip_country"),
    ("disposable_email", "billing_country"),
    ("signup_ip_country", "billing_country"),
    ("phone_unverified", "signup_ip_country", "billing_country"),
    ("disposable_email", "phone_unverified", "signup_ip_country"),
    ("disposable_email", "phone_unverified", "signup_ip_country", "billing_country"),
)
"""Signal sets of a false identity; each weighs enough for the detector's alert line."""


@register_scenario(KIND, also=("high_risk_instrument", "usage_before_payment"))
def identity_mismatch(plan: CustomerPlan, rng: random.Random) -> None:
    """A new account under a false identity (see the module docstring)."""
    signals = rng.choice(COMBOS)
    actual = abroad(plan, rng)
    ip = ip_in(actual, rng)
    declared = plan.country.code
    for item in plan.scheduled:
        body = item.body
        if not isinstance(body, dict):
            continue
        if body.get("operation") == "customer.signup":
            props = body["properties"]
            if "disposable_email" in signals:
                props["email_domain"] = rng.choice(DISPOSABLE_DOMAINS)
            if "phone_unverified" in signals:
                props["phone_verified"] = False
            if "signup_ip_country" in signals:
                props["ip_country"] = actual.code
                body["actor_ip"] = ip
            item.label = LabelSpec(
                KIND,
                KIND,
                {"signals": list(signals), "declared": declared, "actual": actual.code},
            )
        elif body.get("kind") == "instrument.added" and "billing_country" in signals:
            body["billing_country"] = actual.code
            body["instrument"] = dict(body["instrument"], country=actual.code)
    # Whoever runs the account signs in from where it really is.
    plan.scheduled = [
        s
        for s in plan.scheduled
        if not (isinstance(s.body, dict) and s.body.get("operation") == "signin")
    ]
    start = active_from(plan) + 30 * 60
    for user in plan.users[: rng.randint(1, len(plan.users))]:
        signins(plan, rng, user, actual, ip, start, plan.horizon_end_s, (4 * HOUR_S, DAY_S))


@register_scenario(TRAVELLER)
def traveller_signin(plan: CustomerPlan, rng: random.Random) -> None:
    """A user signs in from abroad for a few days (see the module docstring)."""
    start = pick_time(plan, rng, 3 * DAY_S, 5 * DAY_S)
    user = rng.choice(plan.users)
    where = abroad(plan, rng)
    ip = ip_in(where, rng)
    days = rng.randint(1, 4)
    label = LabelSpec(
        KIND, TRAVELLER, {"country": where.code, "days": days, "user": user}, benign=True
    )
    end = start + days * DAY_S
    signins(plan, rng, user, where, ip, start, end, (8 * HOUR_S, DAY_S), first_label=label)

"""Stale access: ``stale_guest`` (a guest used after its invitation expired) and
``inactive_user`` (a user who stops being active and keeps its access).

``stale_guest``: a partner's guest is invited for four to ten days with an ordinary role,
signs in while the invitation runs, and keeps signing in after it expired: first an hour to two
days after expiry, then now and then. Labelled ``stale_access`` at the first use after expiry.

``inactive_user``: a contractor's user is created with a role (Owner three times in ten),
signs in every day or two for three to twenty days, then never again. Labelled at the moment it
has been quiet for ``INACTIVE_DAYS`` (the detector's default), anchored on its last sign-in; a
stream too short for that moment to fall inside it gets the quiet user without a label.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.catalog import FIRST_NAMES
from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.abuse_kit import active_from, partner, pick_time, signins
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S, format_ts

KIND: Final = "stale_access"
GUEST: Final = "stale_guest"
INACTIVE: Final = "inactive_user"
INACTIVE_DAYS: Final = 90
"""How long a user must be quiet to be stale: stale_access's default."""


@register_scenario(GUEST)
def stale_guest(plan: CustomerPlan, rng: random.Random) -> None:
    """A guest still used after its invitation expired (see the module docstring)."""
    invited = pick_time(plan, rng, HOUR_S, 14 * DAY_S)
    expires = invited + rng.randint(4, 10) * DAY_S
    guest = partner(rng)
    plan.activity(invited, "guest.invite", {"principal": guest, "expires": format_ts(expires)})
    role = rng.choice(("Reader", "Contributor", "Storage Blob Data Contributor"))
    plan.activity(
        invited + rng.randrange(60, 900),
        "role.assign",
        {"role": role, "principal": guest, "principal_type": "guest"},
    )
    ip = f"{plan.country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    signins(plan, rng, guest, plan.country, ip, invited + HOUR_S, expires - HOUR_S)
    first = expires + rng.randrange(HOUR_S, 2 * DAY_S)
    label = LabelSpec(
        KIND, GUEST, {"principal": guest, "expires": format_ts(expires), "role": role}
    )
    plan.activity(
        first, "signin", {"ip_country": plan.country.code}, actor=guest, actor_ip=ip, label=label
    )
    signins(plan, rng, guest, plan.country, ip, first + HOUR_S, plan.horizon_end_s)


@register_scenario(INACTIVE)
def inactive_user(plan: CustomerPlan, rng: random.Random) -> None:
    """A user who goes quiet for good (see the module docstring)."""
    created = active_from(plan) + rng.randrange(HOUR_S, 2 * DAY_S)
    user = f"{rng.choice(FIRST_NAMES)}.{hex_token(rng, 4)}@{plan.email_domain}"
    plan.activity(created, "user.create", {"principal": user})
    role = rng.choices(("Contributor", "Owner", "Reader"), weights=(5, 3, 2))[0]
    plan.activity(
        created + rng.randrange(60, 600),
        "role.assign",
        {"role": role, "principal": user, "principal_type": "user"},
    )
    room = plan.horizon_end_s - INACTIVE_DAYS * DAY_S - DAY_S
    quiet_from = min(created + rng.randint(3, 20) * DAY_S, room)
    ip = f"{plan.country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    times = []
    at = created + rng.randrange(HOUR_S, 12 * HOUR_S)
    while at < quiet_from:
        times.append(at)
        at += rng.randrange(12 * HOUR_S, 2 * DAY_S)
    for i, at in enumerate(times):
        label = None
        if i == len(times) - 1 and at + INACTIVE_DAYS * DAY_S < plan.horizon_end_s - HOUR_S:
            label = LabelSpec(
                KIND,
                INACTIVE,
                {"principal": user, "role": role, "last_active": format_ts(at)},
                at_s=at + INACTIVE_DAYS * DAY_S,
            )
        plan.activity(
            at, "signin", {"ip_country": plan.country.code}, actor=user, actor_ip=ip, label=label
        )

"""Privilege escalation: ``account_takeover`` and ``guest_invite_burst``, and their look-alike
``colleague_owner_grant``.

``account_takeover``: an ordinary or established customer (half each); a few days into the
stream an attacker in another country tries the admin's password (two to six failed sign-ins,
four times in five), gets in (six times in seven), invites a guest it controls (or, one time in
four, creates a user) and grants it Owner (or User Access Administrator), from its own IP.
The new-user variant always has the failed sign-ins. Labelled ``privilege_escalation`` at the
grant.

``guest_invite_burst``: six to twenty guests invited within five to forty minutes, half of the
time by an attacker just signed in from abroad. Labelled at the first invitation.

``colleague_owner_grant``: the admin, from its usual IP, grants Owner to a colleague who has
been in the account (created, signing in) for at least nine days. Labelled benign.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.catalog import FIRST_NAMES
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.abuse_kit import (
    abroad,
    active_from,
    ip_in,
    outsider,
    pick_time,
    signins,
)
from streamwatch.generator.scenarios.mining_kit import home_signins, make_established
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S, format_ts

KIND: Final = "privilege_escalation"
TAKEOVER: Final = "account_takeover"
BURST: Final = "guest_invite_burst"
COLLEAGUE: Final = "colleague_owner_grant"


@register_scenario(TAKEOVER)
def account_takeover(plan: CustomerPlan, rng: random.Random) -> None:
    """An attacker takes the admin's account over and grants an outsider Owner."""
    if rng.random() < 0.5:
        make_established(plan, rng)
    at = pick_time(plan, rng, 3 * DAY_S, DAY_S)
    home_signins(plan, rng, at - 3 * HOUR_S)
    country = abroad(plan, rng)
    ip = ip_in(country, rng)
    as_user = rng.random() < 0.25
    failed = as_user or rng.random() < 0.8
    succeeded = rng.random() < 6 / 7
    if failed:
        first = at - rng.randrange(40 * 60, 3 * HOUR_S)
        for i in range(rng.randint(2, 6)):
            plan.activity(
                first + i * rng.randrange(20, 300),
                "signin",
                {"ip_country": country.code},
                actor_ip=ip,
                status="failed",
            )
    if succeeded:
        plan.activity(
            at - rng.randrange(3 * 60, 30 * 60), "signin", {"ip_country": country.code}, actor_ip=ip
        )
    grantee = outsider(rng)
    if as_user:
        grantee = f"{rng.choice(FIRST_NAMES)}.admin@{plan.email_domain}"
        plan.activity(at, "user.create", {"principal": grantee}, actor_ip=ip)
    else:
        expires = format_ts(at + 365 * DAY_S)
        plan.activity(at, "guest.invite", {"principal": grantee, "expires": expires}, actor_ip=ip)
    role = "Owner" if rng.random() < 0.8 else "User Access Administrator"
    plan.activity(
        at + rng.randrange(60, 600),
        "role.assign",
        {"role": role, "principal": grantee, "principal_type": "user" if as_user else "guest"},
        actor_ip=ip,
        label=LabelSpec(
            KIND,
            TAKEOVER,
            {
                "country": country.code,
                "failed_signins": failed,
                "signed_in": succeeded,
                "principal_type": "user" if as_user else "guest",
                "role": role,
            },
        ),
    )


@register_scenario(BURST)
def guest_invite_burst(plan: CustomerPlan, rng: random.Random) -> None:
    """Many guests invited within minutes (see the module docstring)."""
    at = pick_time(plan, rng, 2 * DAY_S, DAY_S)
    ip = plan.actor_ip
    attacker = rng.random() < 0.5
    if attacker:
        country = abroad(plan, rng)
        ip = ip_in(country, rng)
        plan.activity(
            at - rng.randrange(3 * 60, 30 * 60), "signin", {"ip_country": country.code}, actor_ip=ip
        )
    count = rng.randint(6, 20)
    spread = rng.randrange(5 * 60, 40 * 60)
    offsets = sorted(rng.randrange(1, spread) for _ in range(count - 1))
    label = LabelSpec(
        KIND, BURST, {"invites": count, "minutes": spread // 60, "attacker": attacker}
    )
    for i, offset in enumerate((0, *offsets)):
        plan.activity(
            at + offset,
            "guest.invite",
            {"principal": outsider(rng), "expires": format_ts(at + 30 * DAY_S)},
            actor_ip=ip,
            label=label if i == 0 else None,
        )


@register_scenario(COLLEAGUE)
def colleague_owner_grant(plan: CustomerPlan, rng: random.Random) -> None:
    """The admin makes a long-standing colleague Owner (see the module docstring)."""
    start = active_from(plan)
    if len(plan.users) > 1:
        colleague = rng.choice(plan.users[1:])
    else:
        colleague = f"{rng.choice(FIRST_NAMES)}.{rng.choice(FIRST_NAMES)}@{plan.email_domain}"
        plan.activity(
            start + rng.randrange(5 * 60, 25 * 60), "user.create", {"principal": colleague}
        )
    at = pick_time(plan, rng, 10 * DAY_S, HOUR_S)
    signins(plan, rng, colleague, plan.country, plan.actor_ip, start + HOUR_S, at - HOUR_S)
    plan.activity(
        at,
        "role.assign",
        {"role": "Owner", "principal": colleague, "principal_type": "user"},
        label=LabelSpec(KIND, COLLEAGUE, {"principal": colleague}, benign=True),
    )

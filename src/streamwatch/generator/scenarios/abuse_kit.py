"""Helpers shared by the account-abuse scenarios and their look-alikes (no scenario here).

Countries and IP addresses abroad, outsiders' sign-in names, sign-ins, network flows and a
machine to send them from, and a time within the customer's life in the stream.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.catalog import COUNTRIES, EMAIL_WORDS, FIRST_NAMES, Country
from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.timefmt import DAY_S, HOUR_S

DISPOSABLE_DOMAINS: Final = (
    "mailinator.com",
    "yopmail.com",
    "guerrillamail.com",
    "sharklasers.com",
    "10minutemail.com",
    "trashmail.com",
    "getnada.com",
    "maildrop.cc",
    "temp-mail.org",
    "dispostable.com",
)
"""Disposable-address domains, all on the shipped list (``config/indicators/disposable_email``)."""

FREEMAIL_DOMAINS: Final = ("gmail.com", "outlook.com", "proton.me", "yandex.ru", "mail.ru")
"""Where outsiders' own addresses live."""


def active_from(plan: CustomerPlan) -> int:
    """The first instant the customer exists in the stream."""
    return max(plan.signup_s, plan.horizon_start_s)


def pick_time(plan: CustomerPlan, rng: random.Random, after_s: int, tail_s: int) -> int:
    """A time at least ``after_s`` into the customer's life and ``tail_s`` before the stream
    ends (the earliest such time when there is no room)."""
    lo = active_from(plan) + after_s
    hi = plan.horizon_end_s - tail_s
    return rng.randrange(lo, hi) if hi > lo else min(lo, max(active_from(plan), hi))


def abroad(plan: CustomerPlan, rng: random.Random) -> Country:
    """A country other than the customer's."""
    return rng.choice([c for c in COUNTRIES if c.code != plan.country.code])


def ip_in(country: Country, rng: random.Random) -> str:
    """An IPv4 address in ``country``'s address space."""
    return f"{country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def outsider(rng: random.Random) -> str:
    """The sign-in name of someone outside the customer's organisation."""
    return f"{rng.choice(FIRST_NAMES)}{hex_token(rng, 4)}@{rng.choice(FREEMAIL_DOMAINS)}"


def partner(rng: random.Random) -> str:
    """The sign-in name of a partner's consultant."""
    domain = f"{rng.choice(EMAIL_WORDS)}{rng.choice(EMAIL_WORDS)}-partners.com"
    return f"{rng.choice(FIRST_NAMES)}@{domain}"


def signins(
    plan: CustomerPlan,
    rng: random.Random,
    actor: str,
    country: Country,
    ip: str,
    start_s: int,
    end_s: int,
    every_s: tuple[int, int] = (6 * HOUR_S, 2 * DAY_S),
    *,
    first_label: LabelSpec | None = None,
) -> list[int]:
    """Successful sign-ins by ``actor`` from ``country`` between ``start_s`` and ``end_s``
    (within the stream), one every ``every_s``, the first labelled ``first_label``; returns
    their times."""
    times: list[int] = []
    at = start_s + rng.randrange(*every_s) // 4
    while at < min(end_s, plan.horizon_end_s):
        label = first_label if not times else None
        plan.activity(
            at, "signin", {"ip_country": country.code}, actor=actor, actor_ip=ip, label=label
        )
        times.append(at)
        at += rng.randrange(*every_s)
    return times


def machine(plan: CustomerPlan, rng: random.Random, at_s: int) -> tuple[str, str]:
    """(resource id, region) of a VM of the customer that runs at ``at_s``, or of a small VM
    created a little before it."""
    for res in plan.resources:
        running = res.active_from_s <= at_s and (
            res.active_until_s is None or at_s < res.active_until_s
        )
        if running and "virtualMachine" in res.resource_id and res.sku.meter == "compute":
            return res.resource_id, res.region
    name = f"vm-{hex_token(rng, 6)}"
    rid = (
        f"/subscriptions/{plan.subscription_id}/resourceGroups/rg-app/providers/"
        f"Microsoft.Compute/virtualMachines/{name}"
    )
    plan.activity(
        max(active_from(plan), at_s - rng.randrange(10 * 60, 2 * HOUR_S)),
        "vm.create",
        {"sku": "Standard_D2s_v5", "vcpus": 2, "gpus": 0, "count": 1},
        resource_id=rid,
        region=plan.region,
    )
    return rid, plan.region


def flow(
    plan: CustomerPlan,
    at_s: int,
    source: tuple[str, str],
    host: str,
    port: int,
    bytes_out: int,
    *,
    protocol: str = "tcp",
    label: LabelSpec | None = None,
) -> None:
    """One ``network.flow`` from the machine ``source`` (resource id, region)."""
    plan.activity(
        at_s,
        "network.flow",
        {"dst_host": host, "dst_port": port, "protocol": protocol, "bytes_out": bytes_out},
        resource_id=source[0],
        region=source[1],
        label=label,
    )


def public_ip(rng: random.Random) -> str:
    """A random address outside the private ranges (a scan target)."""
    return (
        ".".join(str(n) for n in (rng.randrange(11, 223), rng.randrange(256), rng.randrange(256)))
        + f".{rng.randrange(1, 255)}"
    )

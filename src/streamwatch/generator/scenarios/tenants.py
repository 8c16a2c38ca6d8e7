"""Real tenants' ordinary lives that trip naive detectors: look-alikes, all innocent.

Every customer here is localised (``tenant_kit.localize``: a Berlin, London or New York clock
with daylight saving, EUR/GBP/USD billing, back-filled history, daily records for half, late
usage for half).

* ``weekly_backup``: every Sunday at 01:00 local time a backup ships 200-1,500 GB an hour for
  one to three hours to an off-site vault. Labelled benign ``network_abuse`` and ``spend_spike``
  at the first backup only: from the second week on it is the customer's normal.
* ``weekly_newsletter``: every week on the same weekday at 10:00 local, a newsletter goes to
  120-400 distinct mail servers within the hour. Benign ``network_abuse`` at the first one.
* ``local_tenant``: nothing but the localised life itself (office hours that move with DST,
  daily egress and storage records, usage delivered late, years of history). No labels.
* ``neighbour_billing``: an established Austrian company with its address in Germany (signed
  up from Germany) adds a renewed card issued in Austria, billing country Austria. No labels:
  the mismatch is weighed by age and standing and is never an alert on its own.
* ``corporate_card``: 3-6 colleagues of the customer open accounts over two days, from the
  office's one proxy address, with the company's e-mail domain, verified phones, devices of
  their own, all paying with one corporate card. No labels: a ``bot_signup`` on them is false.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.catalog import EMAIL_WORDS, SKUS
from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec, Resource
from streamwatch.generator.rhythm import flat
from streamwatch.generator.scenarios.abuse_kit import flow, machine
from streamwatch.generator.scenarios.mining_kit import price
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.ring_kit import Identity, new_account, onboard
from streamwatch.generator.scenarios.tenant_kit import local_s, localize
from streamwatch.generator.timefmt import DAY_S, EPOCH_MONDAY_OFFSET_H, HOUR_S

WEEKLY_BACKUP: Final = "weekly_backup"
WEEKLY_NEWSLETTER: Final = "weekly_newsletter"
LOCAL_TENANT: Final = "local_tenant"
NEIGHBOUR_BILLING: Final = "neighbour_billing"
CORPORATE_CARD: Final = "corporate_card"
SUNDAY: Final = 6
NEIGHBOURS: Final = {"DE": "AT", "GB": "IE", "US": "CA"}
"""A country's neighbour whose companies often keep an address across the border."""


def weekdays_at(plan: CustomerPlan, weekday: int, hour: int) -> list[int]:
    """Epoch seconds of every ``weekday`` (Monday 0) at ``hour``:00 local in the stream."""
    out = []
    day = plan.horizon_start_s - plan.horizon_start_s % DAY_S
    while day < plan.horizon_end_s:
        if (day // HOUR_S + EPOCH_MONDAY_OFFSET_H) // 24 % 7 == weekday:
            at = local_s(plan, day, hour)
            if plan.horizon_start_s <= at < plan.horizon_end_s:
                out.append(at)
        day += DAY_S
    return out


@register_scenario(WEEKLY_BACKUP, lookalike=True)
def weekly_backup(plan: CustomerPlan, rng: random.Random) -> None:
    """A Sunday-night backup to an off-site vault (see the module docstring)."""
    localize(plan, rng)
    gb = rng.uniform(200.0, 1500.0)
    hours = rng.randint(1, 3)
    starts = weekdays_at(plan, SUNDAY, 1)
    source = machine(plan, rng, plan.horizon_start_s)
    on = frozenset(s // HOUR_S + h for s in starts for h in range(hours))
    plan.resources.append(
        Resource(
            resource_id=source[0],
            sku=SKUS["Internet_Egress_Zone1"],
            region=source[1],
            mode="flow",
            base=gb,
            weekly=flat(),
            unit_price=price(plan, "Internet_Egress_Zone1"),
            active_from_s=plan.horizon_start_s,
            on_hours=on,
            rampable=False,
        )
    )
    vault = f"vault.{rng.choice(EMAIL_WORDS)}-offsite.net"
    detail = {"gb_per_hour": round(gb), "hours": hours, "weekday": "Sunday 01:00 local"}
    for n, at in enumerate(starts):
        for h in range(hours):
            label = None
            if n == 0 and h == 0:
                # Reported daily, the backup shows in the row of its (UTC) day.
                day = at - at % DAY_S if "egress" in plan.daily_meters else None
                label = LabelSpec(
                    "network_abuse",
                    WEEKLY_BACKUP,
                    detail,
                    benign=True,
                    at_s=day,
                    end_s=None if day is None else at + hours * HOUR_S,
                )
            flow(plan, at + h * HOUR_S, source, vault, 443, int(gb * 1e9), label=label)
        if n == 0:
            plan.activity(
                at + 60,
                "backup.start",
                {"job": "weekly-offsite"},
                label=LabelSpec("spend_spike", WEEKLY_BACKUP, detail, benign=True),
            )


@register_scenario(WEEKLY_NEWSLETTER, lookalike=True)
def weekly_newsletter(plan: CustomerPlan, rng: random.Random) -> None:
    """A weekly newsletter to a few hundred mail servers (see the module docstring)."""
    localize(plan, rng)
    weekday = rng.randint(0, 4)
    source = machine(plan, rng, plan.horizon_start_s)
    servers = [
        f"mx{rng.randint(1, 3)}.{rng.choice(EMAIL_WORDS)}{rng.choice(EMAIL_WORDS)}.{tld}"
        for tld in ("com", "de", "co.uk", "net", "org")
        for _ in range(100)
    ]
    size = rng.randint(120, 400)
    label = LabelSpec(
        "network_abuse", WEEKLY_NEWSLETTER, {"servers": size, "weekday": weekday}, benign=True
    )
    for n, at in enumerate(weekdays_at(plan, weekday, 10)):
        for i, server in enumerate(sorted(rng.sample(servers, size))):
            flow(
                plan,
                at + i * (3000 // size),
                source,
                server,
                25,
                rng.randrange(20_000, 200_000),
                label=label if n == 0 and i == 0 else None,
            )


@register_scenario(LOCAL_TENANT, lookalike=True)
def local_tenant(plan: CustomerPlan, rng: random.Random) -> None:
    """Only the localised life of a real tenant (see the module docstring)."""
    localize(plan, rng)


@register_scenario(NEIGHBOUR_BILLING, lookalike=True)
def neighbour_billing(plan: CustomerPlan, rng: random.Random) -> None:
    """An established company billing from the neighbouring country (see the module
    docstring)."""
    localize(plan, rng)
    neighbour = NEIGHBOURS[plan.country.code]
    span = plan.horizon_end_s - plan.horizon_start_s
    at = plan.horizon_start_s + rng.randrange(2 * DAY_S, max(3 * DAY_S, span // 2))
    plan.schedule(
        at,
        "payment",
        {
            "kind": "instrument.added",
            "instrument": {
                "type": "credit_card",
                "fingerprint": hex_token(rng, 24),
                "country": neighbour,
            },
            "billing_country": neighbour,
        },
    )


@register_scenario(CORPORATE_CARD, lookalike=True)
def corporate_card(plan: CustomerPlan, rng: random.Random) -> None:
    """Colleagues behind one proxy sharing a corporate card (see the module docstring)."""
    localize(plan, rng, established=False)
    card = hex_token(rng, 24)
    plan.card_fingerprint = card
    for item in plan.scheduled:
        body = item.body
        if isinstance(body, dict) and body.get("kind") == "instrument.added":
            body["instrument"] = dict(body["instrument"], fingerprint=card)
    first = max(plan.signup_s, plan.horizon_start_s)
    for n in range(1, rng.randint(3, 6)):
        signup = first + rng.randrange(20 * 60, 2 * DAY_S)
        if signup >= plan.horizon_end_s - HOUR_S:
            continue
        account = new_account(plan, n, signup, rng)
        who = Identity(plan.email_domain, True, hex_token(rng, 32), plan.actor_ip, card)
        onboard(account, who, rng, LabelSpec("bot_signup", CORPORATE_CARD, {}))
        for item in account.scheduled:
            item.label = None  # innocent colleagues: any bot_signup alert on them is false
        plan.companions.append(account)

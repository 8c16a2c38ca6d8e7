"""Network abuse: ``spam_fanout``, ``port_scan`` and ``ddos_egress``, and the look-alikes
``mail_service`` and ``backup_egress``.

The abusers are new accounts (six in ten) starting hours to days after sign-up, or established
customers (signed up before the stream) whose machine starts a few days into it:

* ``spam_fanout``: for two to five hours, SMTP (port 25, some 587) to 60-200 distinct mail
  servers an hour. Labelled ``network_abuse`` at the first connection.
* ``port_scan``: within two to ten minutes, 40-200 ports of one host, or one port (SSH, RDP,
  telnet, SMB, VNC) of 100-250 hosts. Labelled at the first probe.
* ``ddos_egress``: for two to eight hours, 300-3,000 GB of egress an hour from a new scale set,
  with flows to the victim. Labelled at the attack's first hour (a flow at that instant).

Look-alikes, established customers both, labelled benign at their first flow:

* ``mail_service``: a mail relay sending all month to 40-70 distinct servers an hour at its
  busiest (a fifth of that at night, less at weekends), out of a few hundred regular ones.
* ``backup_egress``: a nightly backup of one to three hours shipping 80-600 GB an hour to
  off-site storage.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.catalog import EMAIL_WORDS, SKUS
from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec, Resource
from streamwatch.generator.rhythm import flat
from streamwatch.generator.scenarios.abuse_kit import (
    active_from,
    flow,
    machine,
    pick_time,
    public_ip,
)
from streamwatch.generator.scenarios.mining_kit import make_established, price
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour, local_hour_of_week

KIND: Final = "network_abuse"
SPAM: Final = "spam_fanout"
SCAN: Final = "port_scan"
DDOS: Final = "ddos_egress"
MAIL: Final = "mail_service"
BACKUP: Final = "backup_egress"
SCAN_PORTS: Final = (22, 3389, 23, 445, 5900)
TLDS: Final = ("com", "net", "org", "de", "fr", "co.uk", "com.br", "ru", "in", "jp")


def _start(plan: CustomerPlan, rng: random.Random) -> tuple[int, str]:
    """When the abuse starts, and whether the account is "new" or "established"."""
    if rng.random() < 0.6:
        lo = active_from(plan) + 2 * HOUR_S
        hi = min(active_from(plan) + 3 * DAY_S, plan.horizon_end_s - DAY_S)
        return (rng.randrange(lo, hi) if hi > lo else lo), "new"
    make_established(plan, rng)
    return pick_time(plan, rng, 3 * DAY_S, DAY_S), "established"


def _mail_server(rng: random.Random) -> str:
    return (
        f"mx{rng.randrange(1, 4)}.{rng.choice(EMAIL_WORDS)}{hex_token(rng, 5)}.{rng.choice(TLDS)}"
    )


@register_scenario(SPAM)
def spam_fanout(plan: CustomerPlan, rng: random.Random) -> None:
    """SMTP to many distinct mail servers for a few hours (see the module docstring)."""
    start, standing = _start(plan, rng)
    source = machine(plan, rng, start)
    hours = rng.randint(2, 5)
    label = LabelSpec(KIND, SPAM, {"pattern": "spam", "hours": hours, "standing": standing})
    first = True
    for hour in range(hours):
        count = rng.randint(60, 200)
        offsets = sorted(rng.randrange(HOUR_S) for _ in range(count))
        if first:
            offsets[0] = 0
        for offset in offsets:
            port = 25 if rng.random() < 0.8 else 587
            at = start + hour * HOUR_S + offset
            flow(
                plan,
                at,
                source,
                _mail_server(rng),
                port,
                rng.randrange(2_000, 60_000),
                label=label if first else None,
            )
            first = False


@register_scenario(SCAN)
def port_scan(plan: CustomerPlan, rng: random.Random) -> None:
    """A burst of probes to many ports or hosts (see the module docstring)."""
    start, standing = _start(plan, rng)
    source = machine(plan, rng, start)
    spread = rng.randrange(2 * 60, 10 * 60)
    if rng.random() < 0.5:
        target = public_ip(rng)
        ports = rng.sample(range(1, 10_000), rng.randint(40, 200))
        probes = [(target, port) for port in ports]
        shape = "vertical"
    else:
        port = rng.choice(SCAN_PORTS)
        probes = [(public_ip(rng), port) for _ in range(rng.randint(100, 250))]
        shape = "horizontal"
    label = LabelSpec(
        KIND, SCAN, {"pattern": "scan", "shape": shape, "probes": len(probes), "standing": standing}
    )
    offsets = sorted(rng.randrange(1, spread) for _ in probes[1:])
    for i, ((host, port), offset) in enumerate(zip(probes, (0, *offsets), strict=True)):
        flow(
            plan,
            start + offset,
            source,
            host,
            port,
            rng.randrange(60, 400),
            label=label if i == 0 else None,
        )


@register_scenario(DDOS, also=("spend_spike",))
def ddos_egress(plan: CustomerPlan, rng: random.Random) -> None:
    """Hours of egress far above anything the customer sends (see the module docstring)."""
    start, standing = _start(plan, rng)
    hour = ceil_hour(start)
    hours = rng.randint(2, 8)
    gb = rng.uniform(300.0, 3000.0)
    rid = (
        f"/subscriptions/{plan.subscription_id}/resourceGroups/rg-{hex_token(rng, 4)}/providers/"
        f"Microsoft.Compute/virtualMachineScaleSets/vmss-{hex_token(rng, 6)}"
    )
    plan.activity(
        hour - rng.randrange(10 * 60, 50 * 60),
        "vm.create",
        {"sku": "Standard_D8s_v5", "vcpus": 8, "gpus": 0, "count": rng.randint(4, 20)},
        resource_id=rid,
        region=plan.region,
    )
    plan.resources.append(
        Resource(
            resource_id=rid,
            sku=SKUS["Internet_Egress_Zone1"],
            region=plan.region,
            mode="flow",
            base=gb,
            weekly=flat(),
            unit_price=price(plan, "Internet_Egress_Zone1"),
            active_from_s=hour,
            active_until_s=hour + hours * HOUR_S,
            rampable=False,
        )
    )
    victim = public_ip(rng)
    port, protocol = rng.choice(((53, "udp"), (123, "udp"), (80, "tcp"), (443, "tcp")))
    label = LabelSpec(
        KIND,
        DDOS,
        {"pattern": "ddos", "hours": hours, "gb_per_hour": round(gb), "standing": standing},
    )
    for h in range(hours):
        flow(
            plan,
            hour + h * HOUR_S + (0 if h == 0 else rng.randrange(60, 600)),
            (rid, plan.region),
            victim,
            port,
            int(gb * 1e9 / 60),
            protocol=protocol,
            label=label if h == 0 else None,
        )


@register_scenario(MAIL)
def mail_service(plan: CustomerPlan, rng: random.Random) -> None:
    """A mail relay with high but steady fan-out (see the module docstring)."""
    make_established(plan, rng)
    start = plan.horizon_start_s
    source = machine(plan, rng, start)
    servers = [_mail_server(rng) for _ in range(rng.randint(300, 800))]
    busiest = rng.randint(40, 70)
    offset = plan.country.utc_offset_h
    label = LabelSpec(KIND, MAIL, {"pattern": "spam", "busiest_per_hour": busiest}, benign=True)
    first = True
    for hour in range(start, plan.horizon_end_s, HOUR_S):
        local = local_hour_of_week(hour, offset)
        day_factor = 0.5 if local >= 5 * 24 else 1.0
        level = 1.0 if 8 <= local % 24 < 18 else 0.2
        count = round(busiest * level * day_factor * rng.uniform(0.8, 1.0))
        for server in rng.sample(servers, count):
            flow(
                plan,
                hour + rng.randrange(HOUR_S),
                source,
                server,
                587 if rng.random() < 0.3 else 25,
                rng.randrange(2_000, 80_000),
                label=label if first else None,
            )
            first = False


@register_scenario(BACKUP)
def backup_egress(plan: CustomerPlan, rng: random.Random) -> None:
    """A nightly backup with large, regular egress (see the module docstring)."""
    make_established(plan, rng)
    start = plan.horizon_start_s
    gb = rng.uniform(80.0, 600.0)
    hours = rng.randint(1, 3)
    at_local = rng.randint(0, 3)
    first_night = start - start % DAY_S + (at_local - plan.country.utc_offset_h) % 24 * HOUR_S
    nights = list(range(first_night, plan.horizon_end_s, DAY_S))
    on = frozenset(n // HOUR_S + h for n in nights for h in range(hours) if start <= n + h * HOUR_S)
    rid, region = machine(plan, rng, start)
    plan.resources.append(
        Resource(
            resource_id=rid,
            sku=SKUS["Internet_Egress_Zone1"],
            region=region,
            mode="flow",
            base=gb,
            weekly=flat(),
            unit_price=price(plan, "Internet_Egress_Zone1"),
            active_from_s=start,
            on_hours=on,
            rampable=False,
        )
    )
    target = f"backup.{rng.choice(EMAIL_WORDS)}-vault.net"
    label = LabelSpec(KIND, BACKUP, {"pattern": "ddos", "gb_per_hour": round(gb)}, benign=True)
    first = True
    for night in nights:
        if night < start:
            continue
        flow(
            plan,
            night,
            (rid, region),
            target,
            443,
            int(gb * hours * 1e9),
            label=label if first else None,
        )
        first = False

"""The scenario registry: name -> function that edits one customer's plan.

A scenario receives the customer's normal plan (``plan.CustomerPlan``) and its own seeded
random stream, and changes what will happen: schedule extra events (with ``LabelSpec`` labels
that are emitted together with their event), add resources or ``Ramp``s, replace budgets, set
``plan.budget_scenario``. It must be deterministic given (plan, rng) and must not emit events
itself; the timeline does that, in order, after all scenarios ran.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

from streamwatch.generator.ids import rng_for
from streamwatch.generator.plan import CustomerPlan

Scenario = Callable[[CustomerPlan, random.Random], None]

SCENARIOS: Final[dict[str, Scenario]] = {}
"""Registered scenarios by name; ``GeneratorConfig.incidents`` picks from these."""

CONSEQUENCES: Final[dict[str, frozenset[str]]] = {}
"""Alert kinds a scenario's incident may raise besides those it labels (a miner's bill is a
spend spike too); ``streamwatch.evaluate`` tolerates them rather than counting them false."""


LOOKALIKES: Final[set[str]] = {
    "backup_egress",
    "card_declined_once",
    "colleague_owner_grant",
    "company_proxy",
    "gpu_training",
    "hpc_batch",
    "mail_service",
    "month_end_batch",
    "new_region",
    "pays_late_once",
    "prepaid_bank_transfer",
    "promotion",
    "steady_growth",
    "traveller_signin",
    "weekday_onoff",
}
"""Scenarios of innocent customers that resemble an incident (benign look-alikes): the
evaluation requires that none of their customers is restricted or suspended."""


def register_scenario(
    name: str, also: tuple[str, ...] = (), *, lookalike: bool = False
) -> Callable[[Scenario], Scenario]:
    """Decorator: register ``fn`` under ``name``, whose incidents may also raise the alert
    kinds ``also``; ``lookalike`` marks an innocent customer's scenario (see ``LOOKALIKES``).
    Raises ValueError if the name is taken."""

    def register(fn: Scenario) -> Scenario:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} is already registered")
        SCENARIOS[name] = fn
        CONSEQUENCES[name] = frozenset(also)
        if lookalike:
            LOOKALIKES.add(name)
        return fn

    return register


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; raises ValueError listing the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise ValueError(f"unknown scenario {name!r}; known scenarios: {known}") from None


def assign_incidents(
    seed: int, customers: int, names: tuple[str, ...], rate: float
) -> dict[int, str]:
    """Which customer index gets which scenario: ``round(rate * customers)`` of them, drawn
    without replacement, given the names round-robin (so each name appears when there are
    enough incident customers). Deterministic in (seed, customers, names, rate)."""
    if not names or customers == 0:
        return {}
    for name in names:
        get_scenario(name)
    count = min(customers, round(rate * customers))
    chosen = rng_for(seed, "incidents").sample(range(customers), count)
    return {index: names[j % len(names)] for j, index in enumerate(chosen)}


def apply_scenario(seed: int, name: str, plan: CustomerPlan) -> None:
    """Run scenario ``name`` on ``plan`` with its own random stream."""
    get_scenario(name)(plan, rng_for(seed, plan.customer_id, "scenario", name))
    plan.scenarios.append(name)

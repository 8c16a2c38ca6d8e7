"""Building blocks that make a customer look like a real tenant (no scenario here).

Real tenants differ from the archetypes' first sketch in ways that break naive detectors:
their office hours follow a local clock with daylight saving (Europe/Berlin, Europe/London,
America/New_York), they bill in EUR or GBP, their history started years ago and was
back-filled (the sign-up's date, not the stream, says how old they are), some billing exports
report egress and storage once a day, and usage reaches the stream up to most of an hour late,
out of order with the activity log. ``localize`` applies all of that to a plan.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.archetypes import signup_and_card
from streamwatch.generator.catalog import COUNTRIES, EUR_PER_USD, Country
from streamwatch.generator.plan import Budget, CustomerPlan
from streamwatch.generator.scenarios.mining_kit import make_established
from streamwatch.generator.timefmt import DAY_S, HOUR_S, zone_offset_h

GBP_PER_USD: Final = 0.79
ZONES: Final[dict[str, tuple[str, str]]] = {
    "DE": ("Europe/Berlin", "EUR"),
    "GB": ("Europe/London", "GBP"),
    "US": ("America/New_York", "USD"),
}
"""Country -> (time zone, billing currency) of the localised tenants."""
DAILY_METERS: Final = frozenset({"egress", "storage"})
LATE_USAGE_S: Final = 50 * 60
"""Usage arrives up to this late: under the core's default allowed lateness of an hour."""
BACKFILL_YEARS: Final = (1, 6)
IMPORT_ACTOR: Final = "billing-import"
"""Who wrote a back-filled sign-up: the import, not a person (whose years of activity the
import does not carry, so that the person must not look inactive since then)."""


def local_s(plan: CustomerPlan, day_s: int, hour: int) -> int:
    """Epoch seconds of ``hour``:00 on the customer's clock on the local date that starts
    within the UTC day ``day_s`` (daylight saving included when the plan has a zone)."""
    day = day_s - day_s % DAY_S
    guess = day + (hour - plan.country.utc_offset_h) * HOUR_S
    if plan.tz is None:
        return guess
    return day + (hour - zone_offset_h(plan.tz, guess // HOUR_S)) * HOUR_S


def home(code: str) -> Country:
    """The catalog's first country of ``code`` (New York's, for US)."""
    return next(c for c in COUNTRIES if c.code == code)


def localize(plan: CustomerPlan, rng: random.Random, *, established: bool = True) -> None:
    """Make ``plan`` a tenant of Berlin, London or New York (see the module docstring).

    Moves the customer to the chosen country (its sign-up, card, sign-ins and region follow),
    reprices its resources and budgets in its currency, and, for an established tenant, dates
    its sign-up one to six years before the stream and emits it (back-filled history). Half of
    the tenants report egress and storage daily; half deliver usage late. Call it first, before
    the scenario adds anything of its own.
    """
    code = rng.choice(sorted(ZONES))
    tz, currency = ZONES[code]
    _move(plan, home(code))
    plan.tz = tz
    _reprice(plan, currency)
    if established:
        make_established(plan, rng)
        plan.signup_s = plan.horizon_start_s - rng.randint(*BACKFILL_YEARS) * 365 * DAY_S
        plan.signup_s -= rng.randrange(DAY_S)
        plan.backfilled = True
        signup_and_card(plan, rng, actor=IMPORT_ACTOR)
    if rng.random() < 0.5:
        plan.daily_meters = DAILY_METERS
    if rng.random() < 0.5:
        plan.usage_delay_s = LATE_USAGE_S


def _move(plan: CustomerPlan, country: Country) -> None:
    old = plan.country
    plan.country = country
    plan.actor_ip = plan.actor_ip.replace(old.ip_prefix, country.ip_prefix, 1)
    for res in plan.resources:
        if res.region == old.region:
            res.region = country.region
    shift_s = (old.utc_offset_h - country.utc_offset_h) * HOUR_S
    for item in plan.scheduled:
        body = item.body
        if not isinstance(body, dict):
            continue
        if body.get("operation") == "signin" and item.ts_s + shift_s >= plan.signup_s:
            item.ts_s += shift_s  # the same local office hours on the new clock
        if body.get("region") == old.region:
            body["region"] = country.region
        props = body.get("properties")
        if isinstance(props, dict):
            for key in ("country", "ip_country"):
                if props.get(key) == old.code:
                    props[key] = country.code
        if isinstance(body.get("actor_ip"), str):
            body["actor_ip"] = body["actor_ip"].replace(old.ip_prefix, country.ip_prefix, 1)
        inst = body.get("instrument")
        if isinstance(inst, dict) and inst.get("country") == old.code:
            inst["country"] = country.code
        if body.get("billing_country") == old.code:
            body["billing_country"] = country.code


def _reprice(plan: CustomerPlan, currency: str) -> None:
    rate = {"EUR": EUR_PER_USD, "GBP": GBP_PER_USD}.get(currency, 1.0)
    before = {"EUR": EUR_PER_USD}.get(plan.currency, 1.0)
    for res in plan.resources:
        res.unit_price = res.sku.price_usd * rate
    plan.budgets = [
        Budget(round(b.amount / before * rate, 2), currency, b.set_at_s) for b in plan.budgets
    ]
    plan.currency = currency

"""A customer's plan: who it is, what it runs, and what happens to it, before any event exists.

Archetypes build a plan, scenarios edit it (add scheduled events with labels, ramps, budgets),
then ``timeline.customer_events`` turns it into events. Plans are plain mutable values owned by
one customer's generation; nothing here draws random numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from streamwatch.generator.catalog import Country, Sku
from streamwatch.generator.rhythm import Weekly
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour, next_month_start

JsonDict = dict[str, Any]

Mode = Literal["fixed", "scaled", "level", "flow"]
"""How a resource's hourly quantity comes about.

fixed: ``base`` instances, each a full hour when the weekly profile is above zero.
scaled: ``base * profile`` instance-hours with noise (an autoscaled pool), at least ``min_qty``.
level: ``base`` GB held (storage), growing but without a daily rhythm.
flow: ``base * profile`` GB moved in the hour (egress), with noise.
"""

MONTH_END_DAYS = 2
"""Resources marked ``month_end_only`` run in the last this-many days of each month."""


@dataclass(slots=True)
class Resource:
    """One metered thing (a VM, a scale set, a storage account, a licence, egress of a VM)."""

    resource_id: str
    sku: Sku
    region: str
    mode: Mode
    base: float
    weekly: Weekly
    unit_price: float
    active_from_s: int
    active_until_s: int | None = None
    growth_per_day: float = 0.0
    month_end_only: bool = False
    on_hours: frozenset[int] | None = None
    util_base: float = 0.5
    min_qty: float = 0.0
    rampable: bool = True

    def day_factor(self, day_start_s: int) -> float:
        """Growth and month-end gating for the UTC day starting at ``day_start_s``."""
        if self.month_end_only and day_start_s < next_month_start(day_start_s) - (
            MONTH_END_DAYS * DAY_S
        ):
            return 0.0
        days = max(0, (day_start_s - self.active_from_s) // DAY_S)
        return float((1.0 + self.growth_per_day) ** days)

    def mean_hourly_qty(self) -> float:
        """Average quantity per hour over a week, before growth, noise and ramps."""
        n = len(self.weekly)
        if self.mode == "fixed":
            return self.base * sum(1 for f in self.weekly if f > 0.0) / n
        if self.mode == "level":
            return self.base
        return max(self.min_qty, self.base * sum(self.weekly) / n)

    def expected_cost(self, t0_s: int, t1_s: int) -> float:
        """Noise-free cost over ``[t0_s, t1_s)``; an upper-leaning estimate used to size budgets."""
        lo = max(t0_s, self.active_from_s)
        hi = t1_s if self.active_until_s is None else min(t1_s, self.active_until_s)
        if lo >= hi:
            return 0.0
        if self.on_hours is not None:
            first, last = ceil_hour(lo) // HOUR_S, ceil_hour(hi) // HOUR_S
            hours = sum(1 for h in self.on_hours if first <= h < last)
            return self.base * hours * self.unit_price
        per_hour = self.mean_hourly_qty()
        total = 0.0
        day = lo - lo % DAY_S
        while day < hi:
            overlap_h = (min(day + DAY_S, hi) - max(day, lo)) / HOUR_S
            # The next day's growth makes this an upper bound, which is what budgets want;
            # month-end gating must look at the day itself.
            probe = day if self.month_end_only else day + DAY_S
            total += per_hour * overlap_h * self.day_factor(probe)
            day += DAY_S
        return total * self.unit_price


@dataclass(frozen=True, slots=True)
class Ramp:
    """Usage of rampable resources multiplied by ``factor`` within ``[start_s, end_s)``."""

    start_s: int
    end_s: int
    factor: float


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """A label to emit when its scheduled event is emitted (start == end == the event's ts,
    unless ``end_s`` says otherwise).

    ``benign`` marks a look-alike (a planned surge, say) that an alert may match without
    counting as a false positive.
    """

    kind: str
    scenario: str
    detail: JsonDict
    benign: bool = False
    at_s: int | None = None
    """When the label's incident happens, if not at its event: the moment a quiet user crosses
    an inactivity line after its last event, say. The label is still emitted with its event."""
    end_s: int | None = None
    """A later end than the event (the label still starts at it): for an incident that can be
    recognised only from then on, such as an account of a fraud ring before the ring forms."""


@dataclass(slots=True)
class Ledger:
    """Running totals a scheduled event may need when it is built (e.g. an invoice amount)."""

    month_micros: dict[int, int] = field(default_factory=dict)
    """Cost of the customer's usage in micro-units per month start (epoch s), all currencies."""

    def month_spend(self, month_start_s: int) -> float:
        """Usage cost of the month starting at ``month_start_s``, rounded to cents."""
        return round(self.month_micros.get(month_start_s, 0) / 1_000_000, 2)


BodyBuilder = Callable[[Ledger], JsonDict | None]
"""Builds an event body at emission time from the ledger; None means: emit nothing."""


@dataclass(slots=True)
class Scheduled:
    """An event at a fixed time, other than hourly usage. ``body`` excludes the envelope."""

    ts_s: int
    order: int
    event_type: str
    body: JsonDict | BodyBuilder
    label: LabelSpec | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """A ``budget.set`` to emit: monthly ``amount`` in ``currency`` from ``set_at_s`` on."""

    amount: float
    currency: str
    set_at_s: int


@dataclass(slots=True)
class CustomerPlan:
    """Everything needed to generate one customer's events, before scenarios and after them."""

    customer_id: str
    archetype: str
    country: Country
    currency: str
    signup_s: int
    horizon_start_s: int
    horizon_end_s: int
    subscription_id: str
    email_domain: str
    users: list[str]
    actor_ip: str
    device_fingerprint: str
    card_fingerprint: str
    resources: list[Resource] = field(default_factory=list)
    ramps: list[Ramp] = field(default_factory=list)
    scheduled: list[Scheduled] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    budget_scenario: str = "organic"
    """The ``scenario`` written on budget_threshold labels of this customer."""
    scenarios: list[str] = field(default_factory=list)
    usage_labels: list[tuple[int, LabelSpec]] = field(default_factory=list)
    """Labels anchored to the customer's first usage event at or after a time (epoch s): a
    finding due at a time rather than at an event of the plan (the first usage, an invoice
    some days past due). A label whose time no usage reaches is not emitted."""
    companions: list[CustomerPlan] = field(default_factory=list)
    """Other customers a scenario brought with this one (a fraud ring's further accounts,
    colleagues behind one office proxy), generated as customers of their own after it."""
    tz: str | None = None
    """An IANA time zone (``Europe/Berlin``) whose clock, DST changes included, drives the
    weekly load profiles; None: the country's fixed ``utc_offset_h``."""
    daily_meters: frozenset[str] = frozenset()
    """Meters (``egress``, ``storage``) reported once a day (``interval_s`` = 86400, dated at
    the UTC day's start) instead of every hour, as many billing exports do."""
    usage_delay_s: int = 0
    """Usage reaches the stream up to this many seconds after its hour starts (each record
    its own delay): arrival order then differs from event time. Keep it within the allowed
    lateness of the core."""
    backfilled: bool = False
    """The sign-up and card, dated before the stream, are emitted anyway (history imported
    from an older system): the account's age is its sign-up's date, not the stream's."""

    @property
    def region(self) -> str:
        """The customer's home region."""
        return self.country.region

    @property
    def admin(self) -> str:
        """The user who signed up and acts in the portal."""
        return self.users[0]

    def schedule(
        self,
        ts_s: int,
        event_type: str,
        body: JsonDict | BodyBuilder,
        label: LabelSpec | None = None,
    ) -> None:
        """Add an event; events at the same second keep the order they were scheduled in."""
        self.scheduled.append(Scheduled(ts_s, len(self.scheduled), event_type, body, label))

    def activity(
        self,
        ts_s: int,
        operation: str,
        properties: JsonDict,
        *,
        actor: str | None = None,
        actor_ip: str | None = "",
        status: str = "succeeded",
        resource_id: str | None = None,
        region: str | None = None,
        label: LabelSpec | None = None,
    ) -> None:
        """Schedule an activity-log event. ``actor_ip=None`` omits the IP (provider actions)."""
        body: JsonDict = {
            "operation": operation,
            "actor": actor if actor is not None else self.admin,
        }
        if actor_ip is not None:
            body["actor_ip"] = actor_ip or self.actor_ip
        body["status"] = status
        body["resource_id"] = (
            resource_id if resource_id is not None else f"/subscriptions/{self.subscription_id}"
        )
        if region is not None:
            body["region"] = region
        body["properties"] = properties
        self.schedule(ts_s, "activity", body, label)

    def expected_cost(self, t0_s: int, t1_s: int) -> float:
        """Noise-free, ramp-free cost of all resources over ``[t0_s, t1_s)``."""
        return sum(r.expected_cost(t0_s, t1_s) for r in self.resources)

    def ramp_factor(self, ts_s: int) -> float:
        """Product of the ramps in force at ``ts_s``."""
        factor = 1.0
        for ramp in self.ramps:
            if ramp.start_s <= ts_s < ramp.end_s:
                factor *= ramp.factor
        return factor

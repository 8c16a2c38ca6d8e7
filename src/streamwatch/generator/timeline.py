"""One customer's events, in order, from its plan: hourly usage merged with scheduled events.

Order and ids: events come out with non-decreasing ``ts``; ``event_id`` is ``<customer>-<seq>``
with a zero-padded sequence number, so within a customer the emission order is exactly the
(ts, event_id) order. Several resources report usage at the same whole hour; those ties are
broken by event_id too. A scheduled event at the same second as usage comes before it.

Usage ``ts`` is the start of the metered hour ``[ts, ts + interval_s)``, so a usage event
belongs to the calendar month of the hour it measures.

Labels are produced as their events are emitted: scheduled events may carry one, the budget
rule (``budget.BudgetRule``) is fed every ``budget.set`` and usage event of the customer, and
``plan.usage_labels`` go with the first usage event at or after their time.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator

from streamwatch.generator.budget import MICROS, BudgetRule
from streamwatch.generator.ids import event_id, rng_for
from streamwatch.generator.labels import Anchored, JsonDict, make_label
from streamwatch.generator.plan import CustomerPlan, Ledger, Resource, Scheduled
from streamwatch.generator.rhythm import Weekly
from streamwatch.generator.timefmt import (
    DAY_S,
    EPOCH_MONDAY_OFFSET_H,
    HOUR_S,
    WEEK_H,
    ceil_hour,
    format_ts,
    zone_offset_h,
)

Keyed = tuple[int, str, JsonDict]
"""(ts_s, event_id, event): the merge key and the event."""

COST_NOISE = 0.004
"""Relative spread of cost around quantity * unit price (rounding, price tiers)."""
QTY_NOISE = 0.16
"""Relative spread of autoscaled instance-hours and egress around the load profile."""


def budget_events(plan: CustomerPlan) -> None:
    """Turn ``plan.budgets`` into ``budget.set`` activities (call once, after scenarios)."""
    for budget in plan.budgets:
        plan.activity(
            budget.set_at_s,
            "budget.set",
            {"amount": budget.amount, "currency": budget.currency, "period": "month"},
        )
    plan.budgets = []


def customer_events(
    plan: CustomerPlan, seed: int, sink: list[Anchored], *, delayed: bool = True
) -> Iterator[Keyed]:
    """Yield the customer's events as (ts_s, event_id, event) in order; append labels to sink.

    With ``plan.usage_delay_s`` the first item of each tuple is the moment the event reaches
    the stream (its ts plus its delay), which is what the merge orders by; ``delayed=False``
    leaves that delay out (arrival-order delivery, ``generator.arrival``, draws its own).
    Deterministic for the same plan and seed. The plan must not change while this runs.
    """
    events = _Timeline(plan, seed, sink).run()
    if plan.usage_delay_s <= 0 or not delayed:
        return events
    return _delayed(events, plan.usage_delay_s, rng_for(seed, plan.customer_id, "delay"))


def _delayed(events: Iterator[Keyed], delay_s: int, rng: random.Random) -> Iterator[Keyed]:
    """Usage of ``events`` keyed by its arrival (ts plus up to ``delay_s``), other events by
    their ts; in arrival order. Holds back at most ``delay_s`` of the stream."""
    held: list[Keyed] = []
    for ts_s, eid, event in events:
        while held and held[0][0] <= ts_s:
            yield heapq.heappop(held)
        arrival = ts_s + rng.randrange(delay_s) if event["type"] == "usage" else ts_s
        heapq.heappush(held, (arrival, eid, event))
    while held:
        yield heapq.heappop(held)


class _Timeline:
    __slots__ = ("_noise", "cid", "ledger", "n_labels", "plan", "rule", "seq", "sink")

    def __init__(self, plan: CustomerPlan, seed: int, sink: list[Anchored]) -> None:
        self.plan = plan
        self.cid = plan.customer_id
        self.sink = sink
        self.rule = BudgetRule()
        self.ledger = Ledger()
        self.seq = 0
        self.n_labels = 0
        self._noise = rng_for(seed, plan.customer_id, "usage")

    def label(
        self,
        ts_s: int,
        eid: str,
        kind: str,
        scenario: str,
        detail: JsonDict,
        *,
        benign: bool = False,
        at_s: int | None = None,
        end_s: int | None = None,
    ) -> None:
        start_s = ts_s if at_s is None else at_s
        end = format_ts(end_s) if end_s is not None and end_s > start_s else None
        lab = make_label(
            self.cid, kind, format_ts(start_s), scenario, detail, benign=benign, end=end
        )
        self.sink.append((ts_s, eid, self.n_labels, lab))
        self.n_labels += 1

    def scheduled(self, item: Scheduled) -> Keyed | None:
        body = item.body if isinstance(item.body, dict) else item.body(self.ledger)
        if body is None:
            return None
        self.seq += 1
        eid = event_id(self.cid, self.seq)
        ts_s = item.ts_s
        event: JsonDict = {
            "event_id": eid,
            "type": item.event_type,
            "customer_id": self.cid,
            "ts": format_ts(ts_s),
        }
        event.update(body)
        if (
            item.event_type == "activity"
            and body.get("operation") == "budget.set"
            and body.get("status") == "succeeded"
        ):
            props = body["properties"]
            for name in self.rule.on_budget_set(ts_s, props["amount"], props["currency"]):
                self._budget_label(ts_s, eid, name)
        if item.label is not None:
            spec = item.label
            self.label(
                ts_s,
                eid,
                spec.kind,
                spec.scenario,
                dict(spec.detail),
                benign=spec.benign,
                at_s=spec.at_s,
                end_s=spec.end_s,
            )
        return ts_s, eid, event

    def _budget_label(self, ts_s: int, eid: str, threshold: str) -> None:
        self.label(
            ts_s,
            eid,
            "budget_threshold",
            self.plan.budget_scenario,
            {"threshold": threshold, "month": self.rule.month},
        )

    def run(self) -> Iterator[Keyed]:
        plan = self.plan
        lo, hi = max(plan.signup_s, plan.horizon_start_s), plan.horizon_end_s
        sched = sorted(
            (s for s in plan.scheduled if lo <= s.ts_s < hi or _backfilled(plan, s)),
            key=lambda s: (s.ts_s, s.order),
        )
        n_sched = len(sched)
        si = 0
        rows = [_row(r, hi) for r in plan.resources]
        first = min((r.active_from_s for r in plan.resources), default=hi)
        t = max(ceil_hour(lo), ceil_hour(first))
        day = -1
        day_factors: list[float] = []
        # Latest first, so that the next one due is popped from the end.
        pending = sorted(plan.usage_labels, key=lambda p: p[0], reverse=True)
        while t < hi:
            while si < n_sched and sched[si].ts_s <= t:
                keyed = self.scheduled(sched[si])
                si += 1
                if keyed is not None:
                    yield keyed
            if t // DAY_S != day:
                day = t // DAY_S
                day_factors = [r.day_factor(day * DAY_S) for r in plan.resources]
            usage = self._usage(t, rows, day_factors, plan.ramp_factor(t))
            if pending and usage and pending[-1][0] <= t:
                while pending and pending[-1][0] <= t:
                    spec = pending.pop()[1]
                    self.label(
                        t,
                        usage[0][1],
                        spec.kind,
                        spec.scenario,
                        dict(spec.detail),
                        benign=spec.benign,
                        end_s=spec.end_s,
                    )
            yield from usage
            t += HOUR_S
        while si < n_sched:
            keyed = self.scheduled(sched[si])
            si += 1
            if keyed is not None:
                yield keyed

    def _usage(
        self, t: int, rows: list[_Row], day_factors: list[float], ramp: float
    ) -> list[Keyed]:
        """Usage events of the hour starting at ``t``, one per active resource meter."""
        out: list[Keyed] = []
        cid, sub, currency = self.cid, self.plan.subscription_id, self.plan.currency
        rand = self._noise.random
        hour = t // HOUR_S
        plan = self.plan
        offset = plan.country.utc_offset_h if plan.tz is None else zone_offset_h(plan.tz, hour)
        how = (hour + EPOCH_MONDAY_OFFSET_H + offset) % WEEK_H
        daily = plan.daily_meters
        ts = format_ts(t)
        for k, (
            since, until, on_hours, weekly, mode, base, price, min_qty, rampable,
            rid, meter, sku, unit, region, vcpus, gpus, util_base,
        ) in enumerate(rows):  # fmt: skip
            df = day_factors[k]
            if t < since or t >= until or df <= 0.0:
                continue
            is_daily = bool(daily) and meter in daily
            if on_hours is not None and hour not in on_hours and not is_daily:
                continue
            w = weekly[how]
            r = ramp if rampable else 1.0
            interval = HOUR_S
            if is_daily:
                if t % DAY_S:
                    continue
                qty = self._day_quantity(hour, on_hours, weekly, (mode, base, df, r, min_qty))
                interval = DAY_S
            else:
                qty = _quantity(mode, base, w, df, r, min_qty, rand)
            if qty <= 0.0:
                continue
            # Whole micro-units, so that the budget rule and any reader count the same money.
            cost_micros = round(qty * price * (1.0 + COST_NOISE * (rand() - 0.5)) * MICROS)
            cost = cost_micros / MICROS
            self.seq += 1
            eid = f"{cid}-{self.seq:08d}"
            event: JsonDict = {
                "event_id": eid,
                "type": "usage",
                "customer_id": cid,
                "ts": ts,
                "subscription_id": sub,
                "resource_id": rid,
                "meter": meter,
                "sku": sku,
                "region": region,
                "quantity": qty,
                "unit": unit,
                "cost": cost,
                "currency": currency,
                "interval_s": interval,
            }
            if meter == "compute":
                event["vcpus"] = vcpus
                util = util_base * (0.35 + 0.65 * w) + 0.1 * (rand() - 0.5)
                event["cpu_util"] = round(min(0.99, max(0.01, util)), 3)
            elif meter == "gpu":
                event["vcpus"] = vcpus
                event["gpus"] = gpus
                util = util_base + 0.1 * (rand() - 0.5)
                event["gpu_util"] = round(min(0.99, max(0.01, util)), 3)
            crossed = self.rule.on_usage(t, cost_micros, currency)
            ms = self.rule.month_start_s
            self.ledger.month_micros[ms] = self.ledger.month_micros.get(ms, 0) + cost_micros
            for name in crossed:
                self._budget_label(t, eid, name)
            out.append((t, eid, event))
        return out

    def _day_quantity(
        self,
        first_hour: int,
        on_hours: frozenset[int] | None,
        weekly: Weekly,
        shape: tuple[str, float, float, float, float],
    ) -> float:
        """The whole UTC day from ``first_hour`` in one record (dated at its start): the sum of
        its own hours, each by the local clock (the ramp in force at its start stands for the
        day)."""
        mode, base, df, r, min_qty = shape
        tz, fixed = self.plan.tz, self.plan.country.utc_offset_h
        qty = 0.0
        for hh in range(first_hour, first_hour + 24):
            if on_hours is not None and hh not in on_hours:
                continue
            off = fixed if tz is None else zone_offset_h(tz, hh)
            wh = weekly[(hh + EPOCH_MONDAY_OFFSET_H + off) % WEEK_H]
            qty += _quantity(mode, base, wh, df, r, min_qty, self._noise.random)
        return round(qty, 3)


def _quantity(
    mode: str,
    base: float,
    w: float,
    df: float,
    r: float,
    min_qty: float,
    rand: Callable[[], float],
) -> float:
    """One hour's quantity of a resource (see ``plan.Mode``)."""
    if mode == "fixed":
        return base * df * r if w > 0.0 else 0.0
    if mode == "scaled":
        qty = base * w * df * (1.0 + QTY_NOISE * (rand() - 0.5))
        return round(max(min_qty, qty) * r, 2)
    if mode == "level":
        return round(base * df, 3)
    return round(base * w * df * (1.0 + QTY_NOISE * (rand() - 0.5)) * r, 3)


def _backfilled(plan: CustomerPlan, item: Scheduled) -> bool:
    """Whether ``item`` is the sign-up or card of a back-filled history (see ``plan``)."""
    if not plan.backfilled or item.ts_s >= plan.horizon_end_s or not isinstance(item.body, dict):
        return False
    return item.body.get("operation") == "customer.signup" or item.body.get("kind") == (
        "instrument.added"
    )


_Row = tuple[
    int,
    int,
    frozenset[int] | None,
    Weekly,
    str,
    float,
    float,
    float,
    bool,
    str,
    str,
    str,
    str,
    str,
    int | None,
    int | None,
    float,
]
"""A resource flattened for the hot loop (see ``_row``)."""


def _row(r: Resource, horizon_end_s: int) -> _Row:
    return (
        r.active_from_s,
        r.active_until_s if r.active_until_s is not None else horizon_end_s,
        r.on_hours,
        r.weekly,
        r.mode,
        r.base,
        r.unit_price,
        r.min_qty,
        r.rampable,
        r.resource_id,
        r.sku.meter,
        r.sku.name,
        r.sku.unit,
        r.region,
        r.sku.vcpus,
        r.sku.gpus,
        r.util_base,
    )

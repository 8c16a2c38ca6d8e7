"""``budget_threshold``: month-to-date spend against the customer's monthly budget.

Rule (the generator's labels implement the same one): a ``budget.set`` activity sets the
monthly budget from its ``ts`` on. Month spend is the sum of usage ``cost`` in the budget's
currency within the UTC calendar month. Each of 50%, 80% and 100% fires once per month, at the
usage event whose cost makes the spend reach it, or at the ``budget.set`` that finds the month
already past it. The forecast fires once per month at the first usage event, three days or more
into the month, whose linear projection to month end exceeds the budget while 100% has not yet
been reached.

Usage that arrives late and out of order (billing data for an hour comes hours later, after
later hours) still crosses a line at its event time: a month keeps its last ``RECENT_H`` hours
of spend in the budget's currency by hour, and a line crossed is stamped with the hour in which
the spend, counted in event-time order, reached it (the usage event's own ``ts`` when that is
the hour of the event that made it), never before the budget was set. Usage of an earlier hour
arriving after that can only move the crossing earlier: the alert is then amended with the
earlier time (``crossed``), as often as that happens within ``RECENT_H``. The forecast is
stamped the same way: with the hour in which the projection of the spend counted in event-time
order went past the budget, each hour's spend projected from the latest time one of its events
was judged at (``covered``: a daily row up to its last hour, as ``_usage`` judges it), three
days or more into the month and not before the budget was set; and amended earlier likewise.
It fires only when some hour's projection, so counted, went past the budget: a late row of an
early hour, added to a month whose later hours are already counted, would otherwise project
too much.

Money is summed exactly, in whole micro-units (``round(cost * 1_000_000)``), so that ten charges
of $0.10 reach a $1.00 budget: a threshold of p% is reached when ``spend * 100 >= budget * p``
and the forecast exceeds the budget when ``spend * month_ms > budget * elapsed_ms``. A budget
that rounds to no micro-unit at all is no budget, like one of 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.base import NONE, Capability, Finding, Setup
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import ActivityEvent, Event, Severity, UsageEvent
from streamwatch.core.explain import money, percent
from streamwatch.core.metering import (
    HOUR_S,
    add_by_hour,
    dump_by_hour,
    last_hour_ms,
    load_by_hour,
)
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, month_bounds_ms, month_key

THRESHOLDS: Final[tuple[tuple[str, int, Severity], ...]] = (
    ("50%", 50, "info"),
    ("80%", 80, "low"),
    ("100%", 100, "medium"),
)
MICROS: Final = 1_000_000
SPEND_CAP: Final = 1 << 62
"""Month spend saturates at this many micro-units (about 4.6e12 currency units, far above the
largest budget the codec accepts): the codec bounds each cost, not how many come, and a month's
sum must stay within the int64 range of a JSON snapshot."""
FORECAST_AFTER_MS: Final = 3 * MS_PER_DAY
RECENT_H: Final = 48
"""Hours of spend a month keeps by hour behind its newest, to stamp a crossing at its event
time when usage arrives out of order (the allowed lateness of usage)."""
MONTHS_KEPT: Final = 2
SUBSCRIPTIONS_KEPT: Final = 8


@dataclass(slots=True)
class MonthSpend:
    """One month's spend per currency (micro-units), which lines have fired, where it was spent."""

    start_ms: int
    end_ms: int
    spend: dict[str, int] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    recent: dict[int, int] = field(default_factory=dict)
    """Spend in the budget's currency by epoch hour, the last ``RECENT_H`` hours behind the
    newest."""
    crossed: dict[str, int] = field(default_factory=dict)
    """When each line fired was crossed (epoch ms), as last stamped."""
    covered: dict[int, int] = field(default_factory=dict)
    """For an hour whose usage events' projections were taken at a time later than its start
    (a daily row's last hour, see ``_usage``), the latest such time (epoch ms); other hours are
    projected to their start."""

    def crossed_at(self, currency: str, line: int, event_ts_ms: int) -> int:
        """When the spend, counted in event-time order, reached ``line`` micro-units: the
        start of the hour in which it did, or ``event_ts_ms`` when that is its hour."""
        recent = self.recent
        spent = self.spend.get(currency, 0) - sum(recent.values())
        for hour in sorted(recent):
            spent += recent[hour]
            if spent >= line:
                at = hour * MS_PER_HOUR
                return event_ts_ms if at == event_ts_ms - event_ts_ms % MS_PER_HOUR else at
        return event_ts_ms

    def forecast_at(
        self, amount: int, currency: str, since_ms: int, event_ts_ms: int
    ) -> int | None:
        """When the linear projection of the spend, counted in event-time order, first went
        past ``amount`` three days or more into the month and not before ``since_ms`` (as
        ``_usage`` judges an event, each hour's spend as of the latest time one of its events
        was judged at): the start of that hour, or ``event_ts_ms`` when that is its hour; None
        when no hour kept did (late usage of an early hour, added to a month whose later hours
        are already counted, projects too much)."""
        recent = self.recent
        month_ms = self.end_ms - self.start_ms
        after = max(self.start_ms + FORECAST_AFTER_MS, since_ms)
        own = event_ts_ms - event_ts_ms % MS_PER_HOUR
        spent = self.spend.get(currency, 0) - sum(recent.values())
        for hour in sorted(recent):
            spent += recent[hour]
            at = hour * MS_PER_HOUR
            when = event_ts_ms if at == own else at
            if when < after:
                continue
            elapsed = min(self.covered.get(hour, at), self.end_ms - MS_PER_HOUR) - self.start_ms
            if spent * month_ms > amount * elapsed:
                return when
        return None


@dataclass(slots=True)
class BudgetState:
    """A customer's budget (if any, in micro-units) and the spend of the months still open."""

    amount: int | None = None
    currency: str | None = None
    set_at_ms: int | None = None
    months: dict[str, MonthSpend] = field(default_factory=dict)


def _month_of(key: str, fields: list[Any] | dict[str, Any]) -> MonthSpend:
    """A month from its dump: by name (state version 2), or the list of state version 1
    (``[spend, fired, subscriptions]``; earlier ones began with the month's bounds)."""
    if isinstance(fields, list):
        fields = dict(zip(("spend", "fired", "subscriptions"), fields[-3:], strict=True))
    return MonthSpend(
        *month_bounds_ms(key),
        dict(fields["spend"]),
        list(fields["fired"]),
        list(fields["subscriptions"]),
        load_by_hour(fields.get("recent") or []),
        {str(line): int(at) for line, at in dict(fields.get("crossed", {})).items()},
        {int(hour): int(at) for hour, at in fields.get("covered", ())},
    )


@register(rank=10)
class BudgetDetector:
    """Month-to-date spend against the monthly budget; see the module docstring for the rule."""

    name: ClassVar[str] = "budget_threshold"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage", "activity"})
    capabilities: ClassVar[frozenset[Capability]] = NONE
    kinds: ClassVar[frozenset[str]] = frozenset({"budget_threshold"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> BudgetDetector:  # noqa: ARG003
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls()

    def new_state(self) -> BudgetState:
        return BudgetState()

    def observe(self, state: BudgetState, event: Event) -> list[Finding]:
        if isinstance(event, UsageEvent):
            return self._usage(state, event)
        if (
            isinstance(event, ActivityEvent)
            and event.operation == "budget.set"
            and event.status == "succeeded"
        ):
            return self._budget_set(state, event)
        return []

    def _month(self, state: BudgetState, ts_ms: int) -> tuple[str, MonthSpend]:
        for key, month in state.months.items():
            if month.start_ms <= ts_ms < month.end_ms:
                return key, month
        key = month_key(ts_ms)
        start, end = month_bounds_ms(key)
        month = MonthSpend(start, end)
        state.months[key] = month
        if len(state.months) > MONTHS_KEPT:
            del state.months[min(state.months)]
        return key, month

    def _usage(self, state: BudgetState, event: UsageEvent) -> list[Finding]:
        ts_ms, currency = event.ts_ms, event.currency
        key, month = self._month(state, ts_ms)
        micros = round(event.cost * MICROS)
        spent = month.spend.get(currency, 0) + micros
        if spent > SPEND_CAP:  # noqa: PLR1730 - per-event hot path: a compare is cheaper than min()
            spent = SPEND_CAP
        month.spend[currency] = spent
        if event.subscription_id not in month.subscriptions:
            month.subscriptions.append(event.subscription_id)
            del month.subscriptions[:-SUBSCRIPTIONS_KEPT]
        if state.amount is None or currency != state.currency:
            return []
        if micros > 0:
            _note_recent(month, ts_ms, micros)
        # Below the lowest line (50%) nothing can cross: skip the per-threshold loop.
        findings = self._crossings(state, key, month, ts_ms) if spent * 2 >= state.amount else []
        # A record of an hour or less is whole in the hour of its ts (core.metering).
        interval_s = event.interval_s
        last = ts_ms if interval_s <= HOUR_S else max(ts_ms, last_hour_ms(ts_ms, interval_s))
        hour = ts_ms // MS_PER_HOUR
        if last > month.covered.get(hour, hour * MS_PER_HOUR):
            # Kept only where it is later than the hour's start (a daily row, say): the
            # projection of any other hour runs to its start (``forecast_at``).
            month.covered[hour] = last
            for old in [h for h in month.covered if h < hour - RECENT_H]:
                del month.covered[old]
        if "forecast" in month.fired:
            stamped = month.crossed.get("forecast")
            if stamped is not None and event.ts_ms < stamped - stamped % MS_PER_HOUR:
                # Usage of an hour before the forecast's arrived late: it may have come earlier.
                at = month.forecast_at(state.amount, event.currency, self._since(state), stamped)
                if at is not None and at < stamped - stamped % MS_PER_HOUR:
                    month.crossed["forecast"] = at
                    newest = max(
                        (*month.covered.values(), *(h * MS_PER_HOUR for h in month.recent)),
                        default=event.ts_ms,
                    )
                    elapsed = min(newest, month.end_ms - MS_PER_HOUR) - month.start_ms
                    findings.append(self._forecast(state, key, month, newest, spent, elapsed, at))
        elif "100%" not in month.fired and event.ts_ms - month.start_ms >= FORECAST_AFTER_MS:
            # Up to the last hour the record covers: a daily row brings a day of spend, and
            # judging it as one hour's would project 24 times too much (core.metering).
            elapsed = min(last, month.end_ms - MS_PER_HOUR) - month.start_ms
            at = (
                month.forecast_at(state.amount, event.currency, self._since(state), event.ts_ms)
                if spent * (month.end_ms - month.start_ms) > state.amount * elapsed
                else None
            )
            if at is not None:
                # Counted in event-time order, the projection went past the budget at ``at``.
                month.fired.append("forecast")
                month.crossed["forecast"] = at
                findings.append(self._forecast(state, key, month, event.ts_ms, spent, elapsed, at))
        return findings

    @staticmethod
    def _since(state: BudgetState) -> int:
        return state.set_at_ms if state.set_at_ms is not None else 0

    def _budget_set(self, state: BudgetState, event: ActivityEvent) -> list[Finding]:
        props = event.properties
        amount = props.get("amount")
        currency = props.get("currency")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
            return []
        if not isinstance(currency, str):
            return []
        micros = round(amount * MICROS)
        if micros <= 0:
            return []  # below one micro-unit: no budget (dividing by it would fail)
        state.amount = micros
        state.currency = currency
        state.set_at_ms = event.ts_ms
        key, month = self._month(state, event.ts_ms)
        return self._crossings(state, key, month, event.ts_ms)

    def _crossings(
        self, state: BudgetState, key: str, month: MonthSpend, ts_ms: int
    ) -> list[Finding]:
        assert state.amount is not None
        assert state.currency is not None
        spent = month.spend.get(state.currency, 0)
        findings = []
        for label, pct, severity in THRESHOLDS:
            if spent * 100 < state.amount * pct:
                continue
            line = -(-state.amount * pct // 100)
            at = month.crossed_at(state.currency, line, ts_ms)
            if state.set_at_ms is not None:
                at = max(at, state.set_at_ms)
            if label in month.fired:
                stamped = month.crossed.get(label)
                if stamped is None or at >= stamped - stamped % MS_PER_HOUR:
                    continue  # not crossed an hour earlier than stamped: nothing to amend
            else:
                month.fired.append(label)
            month.crossed[label] = at
            used = spent / state.amount
            when = f"at {format_ts(at)}" if at == ts_ms else f"in the hour from {format_ts(at)}"
            reason = (
                f"Month-to-date spend for {key} is {money(spent / MICROS, state.currency)}, "
                f"{percent(used)} of the {money(state.amount / MICROS, state.currency)} "
                "monthly budget; "
                f"it crossed {label} {when}."
            )
            findings.append(
                Finding(
                    incident=f"{key}/{label}",
                    kind=self.name,
                    severity=severity,
                    score=score_of(severity),
                    event_time_ms=at,
                    window_start_ms=month.start_ms,
                    window_end_ms=month.end_ms,
                    reasons=(reason,),
                    evidence={
                        "month": key,
                        "threshold": label,
                        "spend": round(spent / MICROS, 2),
                        "budget": state.amount / MICROS,
                        "currency": state.currency,
                        "used": round(used, 4),
                    },
                    subscription_ids=tuple(month.subscriptions),
                )
            )
        return findings

    def _forecast(
        self,
        state: BudgetState,
        key: str,
        month: MonthSpend,
        ts_ms: int,
        spent: int,
        elapsed: int,
        at: int,
    ) -> Finding:
        """The forecast as of ``ts_ms`` (``spent`` over ``elapsed`` ms of the month), stamped
        when its projection went past the budget: ``at``."""
        assert state.amount is not None
        assert state.currency is not None
        projected = spent * (month.end_ms - month.start_ms) / elapsed
        days = (ts_ms - month.start_ms) / MS_PER_DAY
        cur = state.currency
        spent_money, projected_money = spent / MICROS, projected / MICROS
        budget = state.amount / MICROS
        reason = (
            f"At the run rate so far ({money(spent_money, cur)} in {days:.1f} days), "
            f"spend for {key} projects to {money(projected_money, cur)} by month end, "
            f"{percent(projected / state.amount)} of the {money(budget, cur)} budget "
            f"({money(projected_money - budget, cur)} over)."
        )
        if at != ts_ms:
            # Usage arrived out of order: when, counted in event-time order, it went past.
            reason += (
                " Counted in event-time order the projection went past the budget in the hour "
                f"from {format_ts(at)}."
            )
        return Finding(
            incident=f"{key}/forecast",
            kind=self.name,
            severity="low",
            score=score_of("low"),
            event_time_ms=at,
            window_start_ms=month.start_ms,
            window_end_ms=month.end_ms,
            reasons=(reason,),
            evidence={
                "month": key,
                "threshold": "forecast",
                "spend": round(spent_money, 2),
                "projected": round(projected_money, 2),
                "budget": budget,
                "currency": cur,
            },
            subscription_ids=tuple(month.subscriptions),
        )

    def dump(self, state: BudgetState) -> dict[str, Any]:
        return {
            "amount": state.amount,
            "currency": state.currency,
            "set_at_ms": state.set_at_ms,
            # A month's bounds follow from its key.
            "months": {
                key: {
                    "spend": dict(m.spend),
                    "fired": list(m.fired),
                    "subscriptions": list(m.subscriptions),
                    "recent": dump_by_hour(m.recent),
                    "crossed": dict(m.crossed),
                    "covered": sorted(m.covered.items()),
                }
                for key, m in state.months.items()
            },
        }

    def load(self, data: dict[str, Any]) -> BudgetState:
        return BudgetState(
            amount=data["amount"],
            currency=data["currency"],
            set_at_ms=data["set_at_ms"],
            months={key: _month_of(key, fields) for key, fields in data["months"].items()},
        )


def _note_recent(month: MonthSpend, ts_ms: int, micros: int) -> None:
    """Add ``micros`` to the hour of ``ts_ms`` and forget hours ``RECENT_H`` behind the newest
    (they are counted in the month's spend all the same)."""
    for old in add_by_hour(month.recent, ts_ms // MS_PER_HOUR, micros, SPEND_CAP, RECENT_H):
        month.covered.pop(old, None)

"""What the report plots show, computed from events and alerts. Pure and deterministic.

- ``spend_around``: a customer's hourly spend in a window around an incident, against its
  baseline: the customer's mean spend at the same hour of the day over the ``BASELINE_DAYS``
  days before the window (None without usage in those days). A usage record's cost is spread
  evenly over the hours of its interval, so a daily billing row is not drawn as one spike.
- ``money_at_risk_over_time``: per currency, the sum over customers of each one's latest money
  at risk, as alert revisions report it, in event-time order.
- ``alerts_by_kind_and_day``: new alerts (an alert counts on the day of its first revision) per
  UTC day and kind, every day from the first to the last shown.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from streamwatch.core.codec import DecodeError, decode_event
from streamwatch.core.events import Event, UsageEvent
from streamwatch.core.timeutil import MS_PER_DAY, format_ts, ts_ms_or_none

MS_PER_HOUR: Final = 3_600_000
BASELINE_DAYS: Final = 7
WINDOW_BEFORE_H: Final = 48
WINDOW_AFTER_H: Final = 48


@dataclass(frozen=True, slots=True)
class SpendWindow:
    """Hourly spend from ``start_ms`` (one value per hour) and the baseline for each hour."""

    customer_id: str
    currency: str
    start_ms: int
    spend: list[float]
    baseline: list[float] | None

    def hours(self) -> list[int]:
        """The start of each hour of the window, in epoch milliseconds."""
        return [self.start_ms + i * MS_PER_HOUR for i in range(len(self.spend))]


def hourly_spend(events: Iterable[Event], customer_id: str) -> dict[str, dict[int, float]]:
    """Per currency, spend by hour start (epoch ms) of ``customer_id``'s usage."""
    out: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        if not isinstance(event, UsageEvent) or event.customer_id != customer_id:
            continue
        hours = max(1, math.ceil(event.interval_s / 3600))
        first = event.ts_ms - event.ts_ms % MS_PER_HOUR
        for i in range(hours):
            out[event.currency][first + i * MS_PER_HOUR].append(event.cost / hours)
    return {
        cur: {hour: math.fsum(costs) for hour, costs in hours_.items()}
        for cur, hours_ in out.items()
    }


def spend_around(
    by_hour: Mapping[str, Mapping[int, float]],
    customer_id: str,
    at_ms: int,
    before_h: int = WINDOW_BEFORE_H,
    after_h: int = WINDOW_AFTER_H,
) -> list[SpendWindow]:
    """One window per currency of [at - before_h, at + after_h) hours around ``at_ms``."""
    start = at_ms - at_ms % MS_PER_HOUR - before_h * MS_PER_HOUR
    count = before_h + after_h
    out = []
    for cur in sorted(by_hour):
        hours = by_hour[cur]
        spend = [hours.get(start + i * MS_PER_HOUR, 0.0) for i in range(count)]
        out.append(SpendWindow(customer_id, cur, start, spend, _baseline(hours, start, count)))
    return out


def _baseline(hours: Mapping[int, float], start_ms: int, count: int) -> list[float] | None:
    history_start = start_ms - BASELINE_DAYS * MS_PER_DAY
    if not any(history_start <= h < start_ms for h in hours):
        return None
    by_hour_of_day = [0.0] * 24
    for day in range(1, BASELINE_DAYS + 1):
        day_start = start_ms - day * MS_PER_DAY
        for hour in range(24):
            by_hour_of_day[(day_start // MS_PER_HOUR + hour) % 24] += hours.get(
                day_start + hour * MS_PER_HOUR, 0.0
            )
    first = start_ms // MS_PER_HOUR
    return [by_hour_of_day[(first + i) % 24] / BASELINE_DAYS for i in range(count)]


def money_at_risk_over_time(
    alerts: Iterable[Mapping[str, Any]],
) -> dict[str, list[tuple[int, float]]]:
    """Per currency, (event time ms, total) after each alert revision that reports money at
    risk: the sum of every customer's latest amount. Revisions at one time count as one step."""
    reports = []
    for alert in alerts:
        money = alert.get("money_at_risk")
        at = ts_ms_or_none(alert.get("event_time"))
        if not isinstance(money, Mapping) or at is None:
            continue
        reports.append((at, str(alert.get("customer_id")), int(alert.get("revision", 0)), money))
    reports.sort(key=lambda r: (r[0], r[1], r[2]))
    latest: dict[str, dict[str, float]] = defaultdict(dict)
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for at, customer, _, money in reports:
        cur = str(money.get("currency"))
        latest[cur][customer] = float(money.get("amount") or 0.0)
        total = round(math.fsum(latest[cur].values()), 2)
        points = out[cur]
        if points and points[-1][0] == at:
            points[-1] = (at, total)
        else:
            points.append((at, total))
    return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class KindsByDay:
    """New alerts per day (``days``, UTC dates) and kind: ``counts[kind][i]`` is day i's."""

    days: list[str]
    counts: dict[str, list[int]]


def alerts_by_kind_and_day(alerts: Iterable[Mapping[str, Any]]) -> KindsByDay:
    """Each alert id counted once, on the day of its earliest revision's event time."""
    first: dict[str, tuple[int, str]] = {}
    for alert in alerts:
        at = ts_ms_or_none(alert.get("first_event_time") or alert.get("event_time"))
        if at is None:
            continue
        alert_id = str(alert.get("alert_id"))
        if alert_id not in first or at < first[alert_id][0]:
            first[alert_id] = (at, str(alert.get("kind")))
    if not first:
        return KindsByDay([], {})
    day_of = {alert_id: at - at % MS_PER_DAY for alert_id, (at, _) in first.items()}
    lo, hi = min(day_of.values()), max(day_of.values())
    days = list(range(lo, hi + MS_PER_DAY, MS_PER_DAY))
    index = {day: i for i, day in enumerate(days)}
    counts: dict[str, list[int]] = {}
    for alert_id, (_, kind) in first.items():
        counts.setdefault(kind, [0] * len(days))[index[day_of[alert_id]]] += 1
    return KindsByDay([format_ts(d)[:10] for d in days], dict(sorted(counts.items())))


def usage_of(lines: Iterable[bytes], customers: Iterable[str]) -> list[Event]:
    """The usage events of ``customers`` among raw JSON lines (a replay's input read again);
    lines that are not valid usage events are passed over, as replay dead-letters them."""
    wanted = set(customers)
    quoted = [orjson.dumps(c) for c in sorted(wanted)]  # a cheap look before decoding
    out: list[Event] = []
    for raw in lines:
        if b'"usage"' not in raw or not any(q in raw for q in quoted):
            continue
        try:
            event = decode_event(raw)
        except DecodeError:
            continue
        if isinstance(event, UsageEvent) and event.customer_id in wanted:
            out.append(event)
    return out

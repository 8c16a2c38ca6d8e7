"""A customer's recent hours, for people's plots: spend, CPU and GPU use, and payments.

The console draws a customer's hourly spend against its learned baseline, its CPU/GPU use and
its payments. The worker's risk view is derived from customer state alone, so the engine keeps
these few figures in the state too: per hour of event time with any usage or payment, the
spend (in the customer's first currency, as spend_spike counts it), the highest CPU and GPU
utilisation and GPU count reported, and the money paid, failed and charged back (money in
cents and utilisation in hundredths, rounded as they are added: a plot needs no more, and a
snapshot stays small). At most
``HOURS_KEPT`` hours are kept (the oldest go first); an event for an hour older than all of
them when full is not kept. Events are deduplicated by the engine before they get here, so a
redelivery adds nothing. Pure and deterministic; the snapshot form is one flat list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from streamwatch.core.events import Event, PaymentEvent, UsageEvent
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts

HOURS_KEPT: Final = 48
WIDTH: Final = 8
"""Numbers per hour in the snapshot: hour (hours since the epoch), spend, cpu, gpu, gpus, paid,
failed, charged back; utilisations are -1 when none was reported."""
_SLOT: Final = {"payment.succeeded": 4, "prepayment": 4, "payment.failed": 5, "chargeback": 6}
"""Where a payment of each kind is added up (the others are not plotted)."""


@dataclass(slots=True)
class HourSeries:
    """The kept hours, keyed by hours since the epoch, with the currency spend is counted in."""

    currency: str | None = None
    hours: dict[int, list[float]] = field(default_factory=dict)

    def observe(self, event: Event) -> None:
        """Fold a usage or payment event into its hour."""
        if isinstance(event, UsageEvent):
            if self.currency is None:
                self.currency = event.currency
            point = self._point(event.ts_ms)
            if point is None:
                return
            if event.currency == self.currency:
                point[0] = round(point[0] + event.cost, 2)
            if event.cpu_util is not None:
                point[1] = max(point[1], round(event.cpu_util, 2))
            if event.gpu_util is not None:
                point[2] = max(point[2], round(event.gpu_util, 2))
            if event.gpus is not None:
                point[3] = max(point[3], float(event.gpus))
        elif isinstance(event, PaymentEvent) and event.amount is not None:
            slot = _SLOT.get(event.kind)
            if slot is None:
                return
            point = self._point(event.ts_ms)
            if point is not None:
                point[slot] = round(point[slot] + event.amount, 2)

    def _point(self, ts_ms: int) -> list[float] | None:
        hour = ts_ms // MS_PER_HOUR
        hours = self.hours
        point = hours.get(hour)
        if point is not None:
            return point
        if len(hours) >= HOURS_KEPT and hour < min(hours):
            return None
        point = hours[hour] = [0.0, -1.0, -1.0, 0.0, 0.0, 0.0, 0.0]
        if len(hours) > HOURS_KEPT:
            del hours[min(hours)]
        return point

    def dump(self) -> list[Any]:
        """The snapshot form: the currency, then ``WIDTH`` numbers per hour, oldest first."""
        flat: list[Any] = [self.currency]
        for hour in sorted(self.hours):
            flat.append(hour)
            flat.extend(self.hours[hour])
        return flat

    @classmethod
    def load(cls, data: list[Any]) -> HourSeries:
        """The inverse of ``dump``."""
        numbers = data[1:]
        hours = {
            int(numbers[i]): [float(x) for x in numbers[i + 1 : i + WIDTH]]
            for i in range(0, len(numbers), WIDTH)
        }
        return cls(data[0], hours)

    def points(self, expected: Any = None) -> list[dict[str, Any]]:
        """The hours as people read them, oldest first; ``expected(hour_ms)`` gives the learned
        hourly spend of an hour (None when nothing is learned yet)."""
        out = []
        for hour in sorted(self.hours):
            spend, cpu, gpu, gpus, paid, failed, charged_back = self.hours[hour]
            at_ms = hour * MS_PER_HOUR
            out.append(
                {
                    "hour": format_ts(at_ms),
                    "spend": spend,
                    "expected": None if expected is None else expected(at_ms),
                    "cpu": None if cpu < 0 else cpu,
                    "gpu": None if gpu < 0 else gpu,
                    "gpus": int(gpus),
                    "paid": paid,
                    "failed": failed,
                    "charged_back": charged_back,
                }
            )
        return out

"""A customer's recent hours, for people's plots: spend, CPU and GPU use, and payments.

The console draws a customer's hourly spend against its learned baseline, its CPU/GPU use and
its payments. The worker's risk view is derived from customer state alone, so the engine keeps
these few figures in the state too: per hour of event time with any usage or payment, the
spend (in the customer's first currency, as spend_spike counts it), the highest CPU and GPU
utilisation and GPU count reported, and the money paid, failed and charged back (money in
cents and utilisation in hundredths, whole numbers: a plot needs no more, the per-event cost
stays small and so does a snapshot). At most
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
    """The kept hours, keyed by hours since the epoch, with the currency spend is counted in.

    Each hour is a list of whole numbers: spend, paid, failed and charged back in cents, CPU
    and GPU utilisation in hundredths (-1: none reported), the GPU count. Whole numbers keep
    the per-event work to an addition and a comparison (this runs for every usage event), and
    a snapshot restores them exactly."""

    currency: str | None = None
    hours: dict[int, list[int]] = field(default_factory=dict)
    """Kept in hour order (as ``load`` builds it), so that the oldest hour is the first key."""
    _hour: int = field(default=-1, compare=False, repr=False)
    _point: list[int] | None = field(default=None, compare=False, repr=False)
    """The hour last added to and its point: most events fall in the hour of the one before."""

    def observe(self, event: Event) -> None:
        """Fold a usage or payment event into its hour."""
        if type(event) is UsageEvent:
            hour = event.ts_ms // 3_600_000
            point = self._point if hour == self._hour else self._at(hour)
            if point is None:
                return
            currency = self.currency
            if currency is None:
                self.currency = currency = event.currency
            if event.currency == currency:
                point[0] += int(event.cost * 100 + 0.5)
            # Compares rather than max(): this runs for every usage event.
            util = event.cpu_util
            if util is not None:
                hundredths = int(util * 100 + 0.5)
                if hundredths > point[1]:  # noqa: PLR1730
                    point[1] = hundredths
            util = event.gpu_util
            if util is not None:
                hundredths = int(util * 100 + 0.5)
                if hundredths > point[2]:  # noqa: PLR1730
                    point[2] = hundredths
            gpus = event.gpus
            if gpus is not None and gpus > point[3]:
                point[3] = gpus
        elif type(event) is PaymentEvent and event.amount is not None:
            slot = _SLOT.get(event.kind)
            if slot is None:
                return
            point = self._at(event.ts_ms // MS_PER_HOUR)
            if point is not None:
                point[slot] += int(event.amount * 100 + 0.5)

    def _at(self, hour: int) -> list[int] | None:
        hours = self.hours
        point = hours.get(hour)
        if point is None:
            if len(hours) >= HOURS_KEPT and hour < next(iter(hours)):
                return None
            late = bool(hours) and hour < next(reversed(hours))
            point = hours[hour] = [0, -1, -1, 0, 0, 0, 0]
            if late:  # an hour before the newest: put back in order
                ordered = sorted(hours.items())
                hours.clear()
                hours.update(ordered)
            if len(hours) > HOURS_KEPT:
                del hours[next(iter(hours))]
        self._hour, self._point = hour, point
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
            int(numbers[i]): [int(x) for x in numbers[i + 1 : i + WIDTH]]
            for i in range(0, len(numbers), WIDTH)
        }
        return cls(data[0], dict(sorted(hours.items())))

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
                    "spend": spend / 100,
                    "expected": None if expected is None else expected(at_ms),
                    "cpu": None if cpu < 0 else cpu / 100,
                    "gpu": None if gpu < 0 else gpu / 100,
                    "gpus": gpus,
                    "paid": paid / 100,
                    "failed": failed / 100,
                    "charged_back": charged_back / 100,
                }
            )
        return out

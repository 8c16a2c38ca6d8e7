"""A usage record read at its rate: what it metered per hour over its interval.

Billing exports report many meters per day (egress, storage: ``interval_s`` 86400), while the
detectors judge hours. A daily record of 195 GB is 8.1 GB an hour for 24 hours, not 195 GB in
the hour of its ``ts``; read as one hour it turns every ordinary customer's daily egress into a
flood. Every detector that judges an hour reads a record through ``hourly_share`` and
``hours_covered`` here, so they all agree on what an hour of a longer record holds.

A record of an hour or less is whole in the hour of its ``ts`` (several five-minute records of
one hour add up); a longer one is spread evenly over the hours it covers. Pure functions.
"""

from __future__ import annotations

from typing import Final

from streamwatch.core.timeutil import MS_PER_HOUR

HOUR_S: Final = 3600
_NONE_FORGOTTEN: Final[tuple[int, ...]] = ()


def hourly_share(amount: float, interval_s: int) -> float:
    """The part of ``amount`` (a cost or quantity metered over ``interval_s`` seconds) that
    falls in one hour of its interval: all of it for an hour or less, else its hourly rate."""
    if interval_s <= HOUR_S:
        return amount
    return amount * HOUR_S / interval_s


def hours_covered(interval_s: int) -> int:
    """How many hours a record metered over ``interval_s`` seconds spreads over (at least 1)."""
    return max(1, -(-interval_s // HOUR_S))


def end_ms(ts_ms: int, interval_s: int) -> int:
    """The end (epoch ms, exclusive) of the metered interval that starts at ``ts_ms``."""
    return ts_ms + max(interval_s, 1) * 1000


def last_hour_ms(ts_ms: int, interval_s: int) -> int:
    """The start (epoch ms) of the last hour a record starting at ``ts_ms`` covers: the hour
    of ``ts_ms`` for a record of an hour or less (it is whole in that hour)."""
    last = ts_ms if interval_s <= HOUR_S else end_ms(ts_ms, interval_s) - 1
    return last - last % MS_PER_HOUR


def add_by_hour(
    by_hour: dict[int, int], hour: int, amount: int, cap: int, keep_h: int
) -> tuple[int, ...]:
    """Add ``amount`` to ``by_hour[hour]`` (epoch hours; capped at ``cap``), keeping only the
    hours at most ``keep_h`` behind the newest, and return the hours forgotten.

    ``by_hour`` is kept in hour order (as ``load_by_hour`` builds it), so its newest hour is its
    last key and the hours to forget are its first. Hours are forgotten only when a newer hour
    is added: a late hour, even one already ``keep_h`` behind the newest, is kept until then (a
    line it crossed is stamped at it on its own event)."""
    old = by_hour.get(hour)
    if old is not None:
        by_hour[hour] = old + amount if old + amount < cap else cap
        return _NONE_FORGOTTEN
    amount = amount if amount < cap else cap
    if not by_hour:
        by_hour[hour] = amount
        return _NONE_FORGOTTEN
    newest = next(reversed(by_hour))
    if hour > newest:
        by_hour[hour] = amount
        forgotten: list[int] = []
        for h in by_hour:
            if h >= hour - keep_h:
                break
            forgotten.append(h)
        for h in forgotten:
            del by_hour[h]
        return tuple(forgotten)
    by_hour[hour] = amount  # a late hour: put back in order
    ordered = sorted(by_hour.items())
    by_hour.clear()
    by_hour.update(ordered)
    return _NONE_FORGOTTEN


def dump_by_hour(by_hour: dict[int, int]) -> list[int]:
    """Amounts by epoch hour (the budget's and the ledger's hours kept) as ``[first hour,
    amount of that hour, of the next, ...]`` (0 for an hour without): a snapshot holds each
    hour's number only, not its key."""
    if not by_hour:
        return []
    first = min(by_hour)
    return [first, *(by_hour.get(hour, 0) for hour in range(first, max(by_hour) + 1))]


def load_by_hour(values: list[int]) -> dict[int, int]:
    """The inverse of ``dump_by_hour`` (hours of 0 are not kept)."""
    if not values:
        return {}
    first = int(values[0])
    return {first + i: int(v) for i, v in enumerate(values[1:]) if v}

"""Load shapes over a local week, and schedules of on/off work such as GPU training runs.

A weekly profile is a tuple of 168 factors in ``[0, 1]``, indexed by the local hour of the week
(Monday 00:00 = 0); ``timefmt.local_hour_of_week`` turns a timestamp into that index.
"""

from __future__ import annotations

import math
import random

from streamwatch.generator.timefmt import DAY_S, HOUR_S, WEEK_H, ceil_hour

Weekly = tuple[float, ...]

WORKDAYS = 5


def business_day(night: float, peak_hour: float = 13.5, width_h: float = 4.0) -> list[float]:
    """24 hourly factors: ``night`` at night rising to 1.0 around ``peak_hour`` (local)."""
    return [
        night + (1.0 - night) * math.exp(-(((h + 0.5 - peak_hour) / width_h) ** 2))
        for h in range(24)
    ]


def weekly(day: list[float], weekend_factor: float) -> Weekly:
    """Repeat a day shape over the week, scaled by ``weekend_factor`` on Saturday and Sunday."""
    out: list[float] = []
    for d in range(7):
        scale = 1.0 if d < WORKDAYS else weekend_factor
        out.extend(f * scale for f in day)
    return tuple(out)


def office_hours(start_h: int, end_h: int) -> Weekly:
    """1.0 from ``start_h`` to ``end_h`` (local) on weekdays, 0.0 otherwise: off at night."""
    return tuple(
        1.0 if (i // 24) < WORKDAYS and start_h <= i % 24 < end_h else 0.0 for i in range(WEEK_H)
    )


def flat() -> Weekly:
    """Always on, no rhythm."""
    return (1.0,) * WEEK_H


def training_runs(
    rng: random.Random,
    start_s: int,
    end_s: int,
    runs_per_week: tuple[int, int] = (2, 4),
    hours: tuple[int, int] = (4, 12),
) -> frozenset[int]:
    """Epoch hour indices (``ts // 3600``) in which a GPU training run is going.

    Each week from ``start_s`` gets a few runs of several hours at random starts; runs may
    overlap, which simply means the GPU stays busy.
    """
    on: set[int] = set()
    week_start = ceil_hour(start_s)
    while week_start < end_s:
        for _ in range(rng.randint(*runs_per_week)):
            first = week_start // HOUR_S + rng.randrange(7 * DAY_S // HOUR_S)
            on.update(range(first, first + rng.randint(*hours)))
        week_start += 7 * DAY_S
    last = end_s // HOUR_S
    return frozenset(h for h in on if h < last)

"""Calendar months as the spend-spike detector needs them: cached, pure functions of time."""

from __future__ import annotations

from functools import lru_cache

from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, month_bounds_ms, month_key


@lru_cache(maxsize=4096)
def month_of_day(day: int) -> tuple[str, int, int]:
    """The month key, end and start (epoch ms) of the UTC day ``day`` (days since the epoch)."""
    key = month_key(day * MS_PER_DAY)
    start, end = month_bounds_ms(key)
    return key, end, start


def hours_left(hour: int) -> int:
    """Whole hours after the hour starting at ``hour`` (epoch ms) until its month ends."""
    _, end, _ = month_of_day(hour // MS_PER_DAY)
    return max(0, (end - hour - MS_PER_HOUR) // MS_PER_HOUR)

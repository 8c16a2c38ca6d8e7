"""Timestamps as integer epoch seconds, formatted ``2026-10-01T03:00:00Z``; UTC calendar math."""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

HOUR_S: Final = 3_600
DAY_S: Final = 86_400
WEEK_H: Final = 168
EPOCH_MONDAY_OFFSET_H: Final = 72
"""1970-01-01 was a Thursday: add 72 hours to epoch hours to count from a Monday 00:00."""


def parse_ts(text: str) -> int:
    """Parse an RFC 3339 timestamp with an explicit offset into epoch seconds (floored).

    Raises ValueError for a naive or unparseable timestamp.
    """
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write it like 2026-10-01T00:00:00Z")
    return calendar.timegm(dt.utctimetuple())


@lru_cache(maxsize=65_536)
def format_ts(ts_s: int) -> str:
    """Format epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC). Cached: usage repeats hours."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts_s))


def month_start(ts_s: int) -> int:
    """Epoch seconds of the first instant of the UTC calendar month containing ``ts_s``."""
    tm = time.gmtime(ts_s)
    return calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0))


def next_month_start(ts_s: int) -> int:
    """Epoch seconds of the first instant of the UTC month after the one containing ``ts_s``."""
    tm = time.gmtime(ts_s)
    year, mon = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
    return calendar.timegm((year, mon, 1, 0, 0, 0))


def month_key(ts_s: int) -> str:
    """The UTC calendar month of ``ts_s`` as ``YYYY-MM``."""
    return time.strftime("%Y-%m", time.gmtime(ts_s))


def month_starts(start_s: int, end_s: int) -> list[int]:
    """Starts of the months beginning strictly after ``start_s`` and before ``end_s``."""
    out = []
    t = next_month_start(start_s)
    while t < end_s:
        out.append(t)
        t = next_month_start(t)
    return out


def ceil_hour(ts_s: int) -> int:
    """The first whole hour at or after ``ts_s``."""
    return -(-ts_s // HOUR_S) * HOUR_S


def local_hour_of_week(ts_s: int, utc_offset_h: int) -> int:
    """Hour of the local week (Monday 00:00 = 0 .. Sunday 23:00 = 167)."""
    return (ts_s // HOUR_S + EPOCH_MONDAY_OFFSET_H + utc_offset_h) % WEEK_H


@lru_cache(maxsize=65_536)
def zone_offset_h(tz: str, epoch_hour: int) -> int:
    """Whole hours the clock of time zone ``tz`` is ahead of UTC in the hour ``epoch_hour``
    (``ts // 3600``), daylight saving included. Cached: customers share zones and hours."""
    when = datetime.fromtimestamp(epoch_hour * HOUR_S, tz=ZoneInfo(tz))
    offset = when.utcoffset()
    return 0 if offset is None else int(offset.total_seconds()) // HOUR_S

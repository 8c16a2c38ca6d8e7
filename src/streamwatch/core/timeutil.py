"""RFC 3339 timestamps as integer milliseconds since the epoch, and calendar helpers (UTC)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

MS_PER_S = 1000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
MIN_TS_MS = (datetime(2, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_MS
"""The earliest instant ``parse_ts_ms`` accepts: 0002-01-01T00:00:00Z."""
MAX_TS_MS = (datetime(9999, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_MS - 1
"""The latest instant ``parse_ts_ms`` accepts: 9998-12-31T23:59:59.999Z.

A year inside what ``datetime`` can hold at either end, so that every time the core derives
from an event time (a window's start, the next month's first day, the next invoice, the end of
a metered interval, a collections date) can be formatted and split into months as well."""
TS_RANGE = "0002-01-01T00:00:00Z to 9998-12-31T23:59:59.999Z"


class TimestampError(ValueError):
    """A timestamp is not RFC 3339 with an offset (for example ``2026-10-01T03:00:00Z``)."""


def parse_ts_ms(text: str) -> int:
    """Parse an RFC 3339 timestamp with an explicit offset into epoch milliseconds.

    Raises TimestampError for anything else, including naive timestamps, other ISO 8601
    forms (week dates, basic format) and instants outside ``MIN_TS_MS`` to ``MAX_TS_MS``
    (``TS_RANGE``, UTC). Fractions below a millisecond are truncated.
    """
    if not _RFC3339.fullmatch(text):
        if _RFC3339.fullmatch(text + "Z"):
            raise TimestampError(f"{text!r} has no UTC offset (RFC 3339 requires one, e.g. 'Z')")
        raise TimestampError(f"{text!r} is not an RFC 3339 timestamp")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimestampError(f"{text!r} is not a valid date and time") from exc
    ms = (dt - _EPOCH) // _ONE_MS
    if not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise TimestampError(f"{text!r} is outside {TS_RANGE}, the range of the contract")
    return ms


def ts_ms_or_none(value: object) -> int | None:
    """``parse_ts_ms`` of ``value`` for messages read back (alerts, requests): None when it is
    not a string or not a valid timestamp, instead of an error."""
    if not isinstance(value, str):
        return None
    try:
        return parse_ts_ms(value)
    except TimestampError:
        return None


def format_ts(ts_ms: int) -> str:
    """Format epoch milliseconds as RFC 3339 UTC with a ``Z``; milliseconds only when non-zero."""
    dt = datetime.fromtimestamp(ts_ms // MS_PER_S, tz=UTC)
    # Not strftime: its %Y drops the leading zeros of years before 1000 on some platforms.
    text = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    )
    if ts_ms % MS_PER_S:
        return f"{text}.{ts_ms % MS_PER_S:03d}Z"
    return text + "Z"


def month_key(ts_ms: int) -> str:
    """The UTC calendar month of a timestamp, as ``YYYY-MM``."""
    dt = datetime.fromtimestamp(ts_ms // MS_PER_S, tz=UTC)
    return f"{dt.year:04d}-{dt.month:02d}"


def month_bounds_ms(month: str) -> tuple[int, int]:
    """Start (inclusive) and end (exclusive) of a ``YYYY-MM`` month in epoch milliseconds."""
    year, mon = int(month[:4]), int(month[5:7])
    start = calendar.timegm((year, mon, 1, 0, 0, 0)) * MS_PER_S
    days = calendar.monthrange(year, mon)[1]
    return start, start + days * MS_PER_DAY

"""Weekly rhythms: jobs that come back at the same hour of the same weekday.

A backup that sends a terabyte to an off-site vault every Sunday at 01:00, or a newsletter to a
few hundred mail servers every Tuesday morning, is far above the customer's usual hour and would
be flagged every week: the detectors never learn flagged hours (an attacker must not teach the
baseline), so a weekly job would never become normal. ``WeeklyMemory`` remembers the flagged
hours by hour of the week instead. Once the same hour (or its neighbour) was flagged in
``WEEKS_TO_LEARN`` consecutive weeks, it is the customer's weekly rhythm: ``usual`` returns the
level it reached, and the detector allows up to ``ALLOWANCE`` times that level in that hour. A
short job (at most ``SHORT_JOB_H`` hours flagged in its week) is a rhythm from its first repeat:
the backup that alerted last Sunday at 01:00 is expected this Sunday at 01:00. An incident that
ran for a day or more last week is not: its hours must come back two weeks running.

Hours of the week are counted in the customer's local time when its sign-up named an IANA
time zone (``timezone``), so a job at 01:00 local stays in its slot across daylight-saving
changes; otherwise in UTC, where the neighbouring-hour match absorbs the one-hour shift.

Bounded: at most ``SLOTS_KEPT`` slots, the one seen longest ago making room. Pure and
deterministic (the time-zone database is configuration of the machine, as for any clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streamwatch.core.timeutil import MS_PER_HOUR, MS_PER_S

WEEK_H: Final = 168
SLOTS_KEPT: Final = 24
WEEKS_TO_LEARN: Final = 2
"""Consecutive weeks an hour must have been flagged in before it is a weekly rhythm (the next
week's run is then normal)."""
SHORT_JOB_H: Final = 6
"""A week with at most this many flagged hours held a short job (a backup, a newsletter): an
hour of it is a rhythm as soon as it repeats a week later."""
ALLOWANCE: Final = 1.5
"""A weekly job may reach this many times the highest level it had."""
_EPOCH_MONDAY_H: Final = 72
"""1970-01-01 was a Thursday: 72 hours after the Monday 1969-12-29 00:00."""
TZ_CHARS: Final = 64


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_name(value: Any) -> str | None:
    """A sign-up's ``timezone`` property if it names a known IANA zone, else None."""
    if isinstance(value, str) and 0 < len(value) <= TZ_CHARS and _zone(value) is not None:
        return value
    return None


@lru_cache(maxsize=4096)
def local_hours(hour_ms: int, tz: str | None) -> int:
    """Hours since Monday 1969-12-29 00:00 in the local time of ``tz`` (UTC when None or
    unknown) of the hour starting at ``hour_ms``: ``// WEEK_H`` is the local week, ``%
    WEEK_H`` the hour of the week (Monday 00:00 = 0)."""
    utc_h = hour_ms // MS_PER_HOUR + _EPOCH_MONDAY_H
    zone = None if tz is None else _zone(tz)
    if zone is None:
        return utc_h
    offset = datetime.fromtimestamp(hour_ms // MS_PER_S, tz=UTC).astimezone(zone).utcoffset()
    return utc_h + (0 if offset is None else int(offset.total_seconds()) // 3600)


@dataclass(slots=True)
class WeeklyMemory:
    """Flagged hours by hour of the week: ``[hour_of_week, week, weeks, level]`` per slot."""

    slots: list[list[Any]] = field(default_factory=list)

    def note(self, hour_ms: int, tz: str | None, level: float) -> None:
        """The hour starting at ``hour_ms`` was flagged at ``level``: count its week."""
        local = local_hours(hour_ms, tz)
        how, week = local % WEEK_H, local // WEEK_H
        for slot in self.slots:
            if slot[0] == how:
                if slot[1] == week:
                    slot[3] = max(slot[3], level)
                elif slot[1] == week - 1:
                    slot[1], slot[2], slot[3] = week, slot[2] + 1, max(slot[3], level)
                elif slot[1] < week:
                    slot[1], slot[2], slot[3] = week, 1, level
                return
        self.slots.append([how, week, 1, level])
        if len(self.slots) > SLOTS_KEPT:
            self.slots.remove(min(self.slots, key=lambda s: (s[1], s[0])))

    def usual(self, hour_ms: int, tz: str | None) -> float:
        """The level a weekly job reaches in the hour starting at ``hour_ms`` (or the hour
        before or after it), when it ran there in ``WEEKS_TO_LEARN`` consecutive weeks up to
        last week, or last week alone as part of a short job; 0 when the hour has no weekly
        rhythm."""
        if not self.slots:
            return 0.0
        local = local_hours(hour_ms, tz)
        week = local // WEEK_H
        near = {(local + d) % WEEK_H for d in (-1, 0, 1)}
        needed = 1 if self._flagged_last_week(week) <= SHORT_JOB_H else WEEKS_TO_LEARN
        level = 0.0
        for how, seen_week, weeks, value in self.slots:
            # Seen last week (or already this week, for a job that started an hour early),
            # after enough consecutive weeks before.
            recent = seen_week == week - 1 or (seen_week == week and weeks > needed)
            if how in near and recent and weeks >= needed:
                level = max(level, value)
        return level

    def _flagged_last_week(self, week: int) -> int:
        """How many of the hours kept were flagged in the week before ``week``: those last seen
        then, and those seen this week that were seen the week before too."""
        return sum(
            1
            for _, seen, weeks, _ in self.slots
            if seen == week - 1 or (seen == week and weeks > 1)
        )

    def allowance(self, hour_ms: int, tz: str | None) -> float:
        """What a weekly job may reach in the hour (``ALLOWANCE`` times ``usual``)."""
        return ALLOWANCE * self.usual(hour_ms, tz)

    def dump(self) -> list[list[Any]]:
        return [list(slot) for slot in self.slots]

    @classmethod
    def load(cls, data: list[list[Any]] | None) -> WeeklyMemory:
        return cls([list(slot) for slot in data or []])

"""One hour as the spend-spike detector judges it, and the severity that judgement earns."""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.core.detectors.spend_spike.config import PROJECTED_SEVERITY, RATIO_SEVERITY
from streamwatch.core.detectors.spend_spike.months import hours_left
from streamwatch.core.events import SEVERITIES
from streamwatch.core.projection import Projection, project


@dataclass(frozen=True, slots=True)
class Hour:
    """The current hour judged: effective spend, expectation and novelty."""

    spend: float
    effective: float
    expected: float
    score: float
    new_region: float
    allowance: float
    month_end: float
    """What a month-end job may add to the hour (0 outside month-end windows)."""
    weekly: float = 0.0
    """What a weekly job seen at this hour of the week may add to it (0: none)."""


def projection(hour: int, total: float, hours: int) -> Projection:
    """The incident's excess ``total`` over its ``hours`` hours (the current one included),
    projected ahead from the hour starting at ``hour`` (``core.projection``: no further than
    observed, at least a day, never past month end)."""
    return project(total, hours, hours_left(hour))


def severity_level(hour: int, judged: Hour, total: float, hours: int) -> int:
    """The index in ``SEVERITIES`` of the hour starting at ``hour`` with ``total`` excess so
    far in its incident of ``hours`` hours: the higher of its ratio to expected spend and its
    projected excess (``projection``), at least low."""
    ratio = judged.effective / max(judged.expected, 0.01)
    projected = total + projection(hour, total, hours).amount
    level = 1  # low
    for threshold, severity in RATIO_SEVERITY:
        if ratio >= threshold:
            level = max(level, SEVERITIES.index(severity))
            break
    for threshold, severity in PROJECTED_SEVERITY:
        if projected >= threshold:
            level = max(level, SEVERITIES.index(severity))
            break
    return level

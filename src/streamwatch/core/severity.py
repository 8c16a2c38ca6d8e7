"""One severity-to-score scale for every detector.

An alert's ``severity`` says how bad it is; its ``score`` (0 to 1) says how sure or how much,
and feeds the customer's combined risk (``CustomerState.risk``). Every detector maps severity
to score on this one scale: a detector with no finer measure takes the severity's nominal
score (``score_of``); one that computes a finer score (a probability, a noisy-or of signals, a
ratio past a limit) keeps it, clamped into the band of the severity it chose (``within``), so
a score never contradicts its severity, whichever detector raised it.

=========  ============  =======
severity   band          nominal
=========  ============  =======
info       0.0  - 0.2    0.1
low        0.2  - 0.5    0.3
medium     0.5  - 0.7    0.6
high       0.7  - 0.85   0.8
critical   0.85 - 1.0    0.95
=========  ============  =======

Bands include both ends: a score on an edge may carry either severity. The severity itself is
each detector's decision (its own thresholds, documented in its module); this scale only
bounds the score that goes with it.
"""

from __future__ import annotations

from typing import Final

from streamwatch.core.events import Severity

BANDS: Final[dict[Severity, tuple[float, float]]] = {
    "info": (0.0, 0.2),
    "low": (0.2, 0.5),
    "medium": (0.5, 0.7),
    "high": (0.7, 0.85),
    "critical": (0.85, 1.0),
}
"""(lowest, highest) score of each severity, both included."""

NOMINAL: Final[dict[Severity, float]] = {
    "info": 0.1,
    "low": 0.3,
    "medium": 0.6,
    "high": 0.8,
    "critical": 0.95,
}
"""The score of a finding whose detector has no finer measure than its severity."""


def score_of(severity: Severity) -> float:
    """The nominal score of ``severity``."""
    return NOMINAL[severity]


def within(severity: Severity, score: float) -> float:
    """``score`` clamped into the band of ``severity``, rounded to 4 places."""
    low, high = BANDS[severity]
    return round(min(high, max(low, score)), 4)

"""The spend-spike detector's tunables, its cohort priors for new customers and its severity
lines. Configuration, never state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from streamwatch.core.detectors.spend_spike.baseline import Params
from streamwatch.core.events import Severity

COLD_OWN_HOURS: Final = 24
"""Below this many learned hours a cold-start customer is judged by its cohort prior alone."""


@dataclass(frozen=True, slots=True)
class CohortPrior:
    """What new customers of one kind spend per hour: typically, and at most (about p99)."""

    name: str
    typical_hourly: float
    max_hourly: float


DEFAULT_COHORT: Final = CohortPrior("new customers", 0.6, 12.0)
COHORTS: Final[dict[str, CohortPrior]] = {
    "MS-AZR-0003P": CohortPrior("new pay-as-you-go customers", 0.6, 12.0),
}
"""Cohort priors by the offer of the customer's first ``subscription.create``, in the customer's
currency. Set from new customers' first two weeks of hourly spend: the median hour, and 1.5x
the 99th percentile of their busiest hour (the generator's population: 0.59 and 7.99)."""


def cohort_of(offer: str | None) -> CohortPrior:
    """The prior of new customers of ``offer`` (the default one for an unknown offer)."""
    return COHORTS.get(offer or "", DEFAULT_COHORT)


RATIO_SEVERITY: Final[tuple[tuple[float, Severity], ...]] = (
    (30.0, "critical"),
    (10.0, "high"),
    (3.0, "medium"),
)
"""Severity by the hour's effective spend over its expected spend: (at least, severity)."""
PROJECTED_SEVERITY: Final[tuple[tuple[float, Severity], ...]] = (
    (50_000.0, "critical"),
    (5_000.0, "high"),
    (500.0, "medium"),
)
"""Severity by the excess projected ahead (``hour.projection``, currency units): (at least,
severity)."""
RECURS_AFTER: Final = 3
"""A spike that has come back this many times (and gone on for ``absorb_after_h`` hours since
it started) is the customer's level, not an incident."""
MAX_REVISIONS: Final = 16
"""Revisions of one alert at most, its opening and its end included (the end is always kept
room for)."""


@dataclass(frozen=True, slots=True)
class SpikeConfig:
    """The detector's tunables; the defaults are the production ones."""

    baseline: Params = field(default_factory=lambda: Params(two_sided=False, spread_floor=0.25))
    alert_score: float = 0.9
    min_excess: float = 5.0
    """Money floor, at most: an hour's excess over its expected spend never needs more than
    this (per hour) to count."""
    min_daily_excess: float = 2.0
    """Money floor, at least: the hour's excess, kept up for a day, must come to this much."""
    relative_excess: float = 5.0
    """Between the two, the excess kept up for a day must be this many times the customer's
    usual daily spend (the spend six times its usual level): a customer usually at $0.10 an
    hour going 10x is stolen from at $21.60 a day, far below the flat $5 an hour, while one at
    $0.80 an hour with a $3.80 hour is not judged on money alone."""

    def floor(self, usual_hourly: float) -> float:
        """The money floor (per hour) of a customer whose usual hourly spend is
        ``usual_hourly``: excess per day against its usual daily spend, between
        ``min_daily_excess`` a day and ``min_excess`` an hour."""
        relative = min(self.min_excess, self.relative_excess * max(usual_hourly, 0.0))
        return max(self.min_daily_excess / 24.0, relative)

    cold_start_h: int = 168
    old_after_days: int = 30
    """A customer whose sign-up is dated this many days or more before its first usage is not
    new (back-filled history): it warms up on its own spend instead of a cohort prior."""
    warm_up_h: int = 168
    month_end_days: int = 2
    month_end_allowance: float = 12.0
    """Month-end allowance before the customer's own month-end level is known."""
    resolve_ratio: float = 1.5
    calm_h: int = 3
    reopen_h: int = 72
    absorb_after_h: int = 72
    relearn_h: int = 168
    """After a spike is absorbed, the baseline learns every hour for this long (a week: every
    hour of the week sees the new level)."""
    amend_growth: float = 1.5
    max_gap_h: int = 48
    max_late_h: int = 48
    """Hours after an hour during which its usage may still arrive (billing data comes in
    batches hours late): a customer's hours stay open at most this long (see **Late usage**)."""

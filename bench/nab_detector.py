"""The spend-spike detection algorithm as a row-at-a-time scorer for NAB series.

NAB series are not money, so this adapter skips what only spend has (hours that accumulate
usage events, money floors, cohort priors, month ends, feedback) and keeps the algorithm: the
seasonal envelope baseline of ``streamwatch.core.detectors.spend_spike.baseline`` scores each
row before learning it; rows scoring at or above ``FLAG_SCORE`` are anomalous and not learned
(unless the anomaly persists for ``absorb_after`` rows, when the new level is accepted, as the
spend detector absorbs a lasting change); after a detection the detector stays quiet for a
cooldown, longer after an anomalous one. Its output is the score of each row, 0 while quiet.

An anomalous value no further out than anomalies the series has already shown (a spike to a
height it has spiked to before) is a repeat, not news: its score is scaled by
``repeat_weight``. It is still not learned, so the envelope keeps the usual range, and the
series' record anomalies stay as the reference.

One parameter set (``NAB_PARAMS``) for every file, chosen on a small fixed grid
(bench/nab_twofold.py, which also gives the two-fold figure). Two-sided, since NAB anomalies
include drops; the spend detector uses the same baseline one-sided (only rises are spikes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from streamwatch.core.detectors.spend_spike.baseline import (
    FLAG_SCORE,
    Baseline,
    Params,
    bucket_of,
    learn,
    novelty,
)


@dataclass(frozen=True, slots=True)
class NabParams:
    """The adapter's one parameter set, in rows (NAB series have no hours)."""

    baseline: Params = field(default_factory=lambda: Params(residual_decay=0.0002))
    """The baseline's defaults but a residual envelope that relaxes 4x faster (0.0002 of it per
    row; spend keeps 0.00005 per hour, and most NAB rows are five minutes apart)."""
    detect_score: float = 0.0173
    """A row at or above this score is a detection (and starts the short cooldown)."""
    short_cooldown: int = 35
    """Rows kept quiet after any detection."""
    long_cooldown_share: float = 0.5
    """Rows kept quiet after an anomalous detection, as a share of the probationary period."""
    absorb_after: int = 100
    """Anomalous rows in a row after which the baseline learns them again (a new level)."""
    warm_share: float = 0.5
    """Share of the probationary period before the first score (the baseline learns meanwhile)."""
    repeat_weight: float = 0.05
    """Score multiplier of an anomalous value within the range of earlier anomalies (1: none)."""


NAB_PARAMS = NabParams()


def probation(rows: int) -> int:
    """NAB's probationary period: min(floor(0.15 n), 750) rows."""
    return min(int(0.15 * rows), 750)


def score_series(
    timestamps: Sequence[datetime], values: Sequence[float], params: NabParams = NAB_PARAMS
) -> list[float]:
    """The anomaly score of every row, each computed before the next row is seen."""
    n = len(values)
    prob = probation(n)
    warm = int(prob * params.warm_share)
    long_cooldown = int(params.long_cooldown_share * prob)
    base_params = params.baseline
    base = Baseline()
    out = [0.0] * n
    last_any = last_flag = -(10**9)
    streak = 0
    # The furthest anomalous values seen above and below the envelope (not learned).
    known_hi, known_lo = -math.inf, math.inf
    for i in range(n):
        x = values[i]
        t = timestamps[i]
        bucket = bucket_of(t.hour, t.weekday())
        seen = novelty(base_params, base, x, bucket)
        score = seen.score if i >= warm else 0.0
        novel = score >= FLAG_SCORE
        if novel and (base.hi < x <= known_hi or known_lo <= x < base.lo):
            score *= params.repeat_weight
        quiet = i - last_flag <= long_cooldown or i - last_any <= params.short_cooldown
        if not quiet:
            out[i] = score
            if i >= warm and score >= params.detect_score:
                last_any = i
        flagged = novel
        if flagged and i - last_flag > long_cooldown:
            last_flag = i
        if flagged:
            streak += 1
            flagged = streak <= params.absorb_after
        else:
            streak = 0
        if flagged and x > base.hi:
            known_hi = max(known_hi, x)
        elif flagged and x < base.lo:
            known_lo = min(known_lo, x)
        if not flagged:
            learn(base_params, base, x, bucket, seen)
    return out

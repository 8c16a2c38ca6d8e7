"""The Numenta Anomaly Benchmark scoring method (NAB v1.1), as ../shared/datasets/nab/SCORING.md
describes it, in pure functions.

Per file: the first ``probation_length(n)`` rows are not scored. Each row gets a *sweep score*:
inside a labelled window, ``A_TP * sigma(y) / sigma(-1)`` with ``y = -(right - i + 1) / width``
(from -1 at the window's left edge towards 0 at its right edge); outside every window,
``A_FP * sigma(y)`` with ``y = |i - right_prev| / (width_prev - 1)``, the distance after the
preceding window in its widths (``y = 3``, the full ``-A_FP``, when no window precedes), where
``sigma(y) = 2 / (1 + e^(5y)) - 1`` and ``sigma(y) = -1`` for ``y >= 3``.

At a threshold ``t`` a row is a detection when its anomaly score is ``>= t``. A window scores its
best (earliest) detection, or ``-A_FN`` without one; every detection outside the windows adds its
(negative) sweep score. One threshold per profile for the whole corpus: the one with the best
total (ties go to the higher threshold). Normalised score:
``100 * (S - S_null) / (S_perfect - S_null)`` with ``S_null = -A_FN * windows`` (never detects)
and ``S_perfect = A_TP * windows``.

Deterministic; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True, slots=True)
class Profile:
    """The weights of one application profile (config/profiles.json)."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: Final[tuple[Profile, ...]] = (
    Profile("standard", tp=1.0, fp=0.11, fn=1.0),
    Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
)


def probation_length(rows: int, share: float = 0.15) -> int:
    """Rows at the start of a file that are not scored: min(floor(0.15 n), 0.15 * 5000)."""
    return int(min(math.floor(share * rows), share * 5000))


def scaled_sigmoid(y: float) -> float:
    """NAB's ``2 / (1 + e^(5y)) - 1``: 0.9866 at -1, 0 at 0, -0.9866 at 1, -1 from 3 on."""
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


_MAX_TP: Final = scaled_sigmoid(-1.0)


@dataclass(frozen=True, slots=True)
class Row:
    """One scorable row: its weighted sweep score and its window (an index), or None outside."""

    index: int
    sweep: float
    window: int | None


def sweep_rows(
    rows: int, windows: Sequence[tuple[int, int]], profile: Profile
) -> tuple[list[Row], list[int]]:
    """The scorable rows of one file (after the probationary period) and the windows that count.

    ``windows`` are (first row, last row) pairs, inclusive, in order and disjoint. A window
    counts when at least one of its rows is scorable. Window ids are positions in ``windows``.
    """
    probation = probation_length(rows)
    out: list[Row] = []
    counted: set[int] = set()
    starts = {first: k for k, (first, _) in enumerate(windows)}
    current: int | None = None
    prev_right: int | None = None
    prev_width = 0.0
    for i in range(rows):
        if current is None and i in starts:
            current = starts[i]
        if current is not None:
            first, last = windows[current]
            width = float(last - first + 1)
            sweep = scaled_sigmoid(-(last - i + 1) / width) * profile.tp / _MAX_TP
        elif prev_right is None:
            sweep = scaled_sigmoid(3.0) * profile.fp
        else:
            # A one-row window has no width to measure by; treat any distance as far.
            distance = abs(prev_right - i) / (prev_width - 1) if prev_width > 1 else 3.0
            sweep = scaled_sigmoid(distance) * profile.fp
        if i >= probation:
            out.append(Row(i, sweep, current))
            if current is not None:
                counted.add(current)
        if current is not None and i == windows[current][1]:
            prev_right = i
            prev_width = float(windows[current][1] - windows[current][0] + 1)
            current = None
    return out, sorted(counted)


@dataclass(slots=True)
class FileScore:
    """One file at one threshold: the raw score and its parts."""

    name: str
    score: float
    windows: int
    detected: int
    false_positives: int
    fp_cost: float
    tp_credit: float


@dataclass(slots=True)
class ProfileResult:
    """A profile's best threshold over the corpus, its raw and normalised score, per file."""

    profile: Profile
    threshold: float
    raw: float
    null: float
    perfect: float
    files: list[FileScore] = field(default_factory=list)

    @property
    def normalised(self) -> float:
        """``100 * (raw - null) / (perfect - null)``."""
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def score_file(
    name: str,
    scores: Sequence[float],
    windows: Sequence[tuple[int, int]],
    profile: Profile,
    threshold: float,
) -> FileScore:
    """The raw score of one file's anomaly scores at ``threshold``."""
    rows, counted = sweep_rows(len(scores), windows, profile)
    best = dict.fromkeys(counted, -profile.fn)
    fp_cost = 0.0
    false_positives = 0
    for row in rows:
        if scores[row.index] < threshold:
            continue
        if row.window is None:
            fp_cost += row.sweep
            false_positives += 1
        else:
            best[row.window] = max(best[row.window], row.sweep)
    detected = sum(1 for v in best.values() if v != -profile.fn)
    tp_credit = sum(v for v in best.values() if v != -profile.fn)
    return FileScore(
        name=name,
        score=fp_cost + sum(best.values()),
        windows=len(counted),
        detected=detected,
        false_positives=false_positives,
        fp_cost=fp_cost,
        tp_credit=tp_credit,
    )


def best_threshold(
    corpus: Mapping[str, tuple[Sequence[float], Sequence[tuple[int, int]]]], profile: Profile
) -> tuple[float, float]:
    """The threshold with the best total raw score over the corpus, and that score.

    ``corpus`` maps file name to (anomaly scores per row, windows). Every distinct anomaly score
    is a candidate threshold, as is one above them all (nothing detected).
    """
    points: list[tuple[float, float, tuple[str, int] | None]] = []
    window_best: dict[tuple[str, int], float] = {}
    for name, (scores, windows) in corpus.items():
        rows, counted = sweep_rows(len(scores), windows, profile)
        for k in counted:
            window_best[(name, k)] = -profile.fn
        for row in rows:
            key = None if row.window is None else (name, row.window)
            points.append((scores[row.index], row.sweep, key))
    points.sort(key=lambda p: p[0], reverse=True)
    total = sum(window_best.values())
    best_score, best_t = total, math.inf
    i = 0
    while i < len(points):
        level = points[i][0]
        while i < len(points) and points[i][0] == level:
            _, sweep, key = points[i]
            if key is None:
                total += sweep
            else:
                old = window_best[key]
                if sweep > old:
                    window_best[key] = sweep
                    total += sweep - old
            i += 1
        if total > best_score + 1e-12:
            best_score, best_t = total, level
    return best_t, best_score


def score_corpus(
    corpus: Mapping[str, tuple[Sequence[float], Sequence[tuple[int, int]]]], profile: Profile
) -> ProfileResult:
    """Best threshold, raw, null and perfect scores of the corpus under ``profile``."""
    threshold, _ = best_threshold(corpus, profile)
    files = [
        score_file(name, scores, windows, profile, threshold)
        for name, (scores, windows) in sorted(corpus.items())
    ]
    windows = sum(f.windows for f in files)
    return ProfileResult(
        profile=profile,
        threshold=threshold,
        raw=sum(f.score for f in files),
        null=-profile.fn * windows,
        perfect=profile.tp * windows,
        files=files,
    )

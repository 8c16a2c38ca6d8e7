"""The NAB adapter of the spend-spike baseline (bench/nab_detector.py) and the two-fold split
of bench/nab_twofold.py, on small made-up series."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from nab_detector import NAB_PARAMS, score_series
from nab_twofold import GRID, fold_of, grid_points, params_of

ROWS = 1000  # probation 150 rows: scores from row 75, quiet 75 rows after an anomaly
START = datetime(2026, 1, 5, tzinfo=UTC)
TIMES = [START + timedelta(minutes=5 * i) for i in range(ROWS)]
QUICK = replace(NAB_PARAMS, short_cooldown=5)


def series_with(spikes: dict[int, float]) -> list[float]:
    """A calm series (10 plus a small wave) with the given rows replaced."""
    values = [10.0 + math.sin(i / 7.0) for i in range(ROWS)]
    for i, v in spikes.items():
        values[i] = v
    return values


def test_a_spike_to_a_height_already_seen_is_scaled_by_the_repeat_weight() -> None:
    values = series_with({400: 100.0, 700: 100.0})
    plain = score_series(TIMES, values, replace(QUICK, repeat_weight=1.0))
    damped = score_series(TIMES, values, replace(QUICK, repeat_weight=0.25))
    assert plain[400] > 0.9
    assert damped[400] == plain[400]  # the first of its kind is news
    assert plain[700] > 0.9
    assert damped[700] == pytest.approx(0.25 * plain[700])


def test_a_spike_beyond_every_earlier_one_is_not_a_repeat() -> None:
    values = series_with({400: 100.0, 700: 150.0})
    plain = score_series(TIMES, values, replace(QUICK, repeat_weight=1.0))
    damped = score_series(TIMES, values, replace(QUICK, repeat_weight=0.25))
    assert damped[700] == plain[700] > 0.9


def test_a_repeated_spike_is_still_not_learned() -> None:
    # Were the spikes learned, the third would sit inside the envelope and score 0.
    values = series_with({400: 100.0, 600: 100.0, 800: 100.0})
    damped = score_series(TIMES, values, replace(QUICK, repeat_weight=0.25))
    assert damped[800] > 0.2


def test_folds_alternate_within_each_category_in_name_order() -> None:
    names = ["b/2.csv", "a/3.csv", "b/1.csv", "a/1.csv", "a/2.csv"]
    assert fold_of(names) == {
        "a/1.csv": "A",
        "a/2.csv": "B",
        "a/3.csv": "A",
        "b/1.csv": "A",
        "b/2.csv": "B",
    }


def test_the_grid_holds_nab_params_and_sets_baseline_parameters_on_the_baseline() -> None:
    points = grid_points()
    assert len(points) == math.prod(len(v) for v in GRID.values())
    assert sum(params_of(p) == NAB_PARAMS for p in points) == 1
    chosen = params_of({"residual_decay": 0.0002, "repeat_weight": 0.05})
    assert chosen.baseline.residual_decay == 0.0002
    assert chosen.repeat_weight == 0.05
    assert chosen.baseline.envelope_decay == NAB_PARAMS.baseline.envelope_decay

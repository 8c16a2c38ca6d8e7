"""Does a river model beat streamwatch's baseline on the Numenta Anomaly Benchmark?

    pip install river==0.26.1        # no longer a dependency of streamwatch
    python bench/nab_river.py [--nab-dir ../shared/datasets/nab] [--jobs 2]

The candidates the project considered river for, each run row at a time on every NAB series
(score, then learn):

* ``gaussian``: ``anomaly.GaussianScorer`` over a window of one probationary period (a
  rolling mean and deviation: the classic adaptive threshold);
* ``hst``: ``anomaly.HalfSpaceTrees`` on the value min-max scaled online;
* ``pad-snarimax``: ``anomaly.PredictiveAnomalyDetection`` around a ``time_series.SNARIMAX``
  forecaster (a residual forecaster);
* ``ours-quantile``: streamwatch's baseline novelty, detected against river's running
  ``stats.Quantile`` of its own scores (an adaptive quantile threshold) instead of a fixed one;
* ``ours``: streamwatch's baseline novelty with a fixed detection score (the reference).

Every candidate goes through the same decision wrapper (``decide``): a row scoring at or above
``d`` is a detection, output as its score, and the following half probationary period is quiet
(as ``nab_detector`` does after an anomalous detection). ``d`` is chosen per candidate from
``GRID`` on the whole corpus, which favours each candidate equally. Prints the standard NAB score
of each, detections, and CPU microseconds per row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from nab import Series, load_corpus, nab_arguments
from nab_detector import NAB_PARAMS, probation, score_series
from nab_scoring import PROFILES, score_corpus

GRID: dict[str, tuple[float, ...]] = {
    "gaussian": (0.99, 0.999, 0.9999, 0.99999, 0.999999, 0.9999999, 0.99999999, 1.0),
    "hst": (0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999),
    "pad-snarimax": (0.5, 0.8, 0.9, 0.95, 0.99, 1.0),
    "ours-quantile": (0.0, 0.0173, 0.05, 0.3),
    "ours": (0.0173, 0.05, 0.3),
}
QUANTILE = 0.999
"""The running quantile of ``ours-quantile``: a row must score above 999 in 1000 of the file's
earlier rows."""


def raw_gaussian(series: Series) -> list[float]:
    from river import anomaly

    prob = probation(len(series.values))
    model = anomaly.GaussianScorer(window_size=max(prob, 2), grace_period=max(prob // 2, 1))
    out = []
    for y in series.values:
        out.append(float(model.score_one(None, y)))
        model.learn_one(None, y)
    return out


def raw_hst(series: Series) -> list[float]:
    from river import anomaly, compose, preprocessing

    model = compose.Pipeline(
        preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(n_trees=10, height=8, seed=7)
    )
    out = []
    for y in series.values:
        x = {"x": y}
        out.append(float(model.score_one(x)))
        model.learn_one(x)
    return out


def raw_pad(series: Series) -> list[float]:
    from river import anomaly, time_series

    prob = probation(len(series.values))
    model = anomaly.PredictiveAnomalyDetection(
        time_series.SNARIMAX(p=3, d=1, q=0), horizon=1, n_std=3.0, warmup_period=prob // 2
    )
    out = []
    for y in series.values:
        out.append(float(model.score_one(None, float(y))))
        model.learn_one(None, float(y))
    return out


def raw_ours(series: Series) -> list[float]:
    """streamwatch's novelty per row, learning as the adapter does, with no cooldown."""
    params = replace(NAB_PARAMS, short_cooldown=0, long_cooldown_share=0.0, detect_score=2.0)
    return score_series(series.timestamps, series.values, params)


def raw_ours_quantile(series: Series) -> list[float]:
    """``raw_ours`` kept only where it exceeds river's running quantile of the earlier rows."""
    from river import stats

    quantile = stats.Quantile(QUANTILE)
    out = []
    for score in raw_ours(series):
        level = quantile.get()
        out.append(score if level is not None and score > level else 0.0)
        quantile.update(score)
    return out


RAW: dict[str, Callable[[Series], list[float]]] = {
    "gaussian": raw_gaussian,
    "hst": raw_hst,
    "pad-snarimax": raw_pad,
    "ours-quantile": raw_ours_quantile,
    "ours": raw_ours,
}


def decide(raw: Sequence[float], d: float, prob: int) -> list[float]:
    """The shared decision: a detection at ``raw >= d`` outputs its score; then half a
    probationary period stays quiet (0)."""
    quiet_until = -1
    out = [0.0] * len(raw)
    for i, r in enumerate(raw):
        if i > quiet_until and r >= d:
            out[i] = round(r, 6)
            quiet_until = i + prob // 2
    return out


def _run(task: tuple[str, Series]) -> tuple[str, str, list[float], float]:
    name, series = task
    started = time.process_time()
    raw = RAW[name](series)
    return name, series.name, raw, time.process_time() - started


def main() -> None:
    args = nab_arguments(
        __doc__, lambda parser: parser.add_argument("--models", nargs="*", default=list(RAW))
    )
    corpus = load_corpus(args.nab_dir)
    by_name = {s.name: s for s in corpus}
    rows = sum(len(s.values) for s in corpus)
    tasks = [(m, s) for m in args.models for s in corpus]
    raw: dict[str, dict[str, list[float]]] = {m: {} for m in args.models}
    cpu = dict.fromkeys(args.models, 0.0)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for model, file, scores, seconds in pool.map(_run, tasks, chunksize=1):
            raw[model][file] = scores
            cpu[model] += seconds
    standard = PROFILES[0]
    print(f"{'model':<14} {'d':>7} {'standard':>9} {'windows':>8} {'outside':>8} {'us/row':>7}")
    for model in args.models:
        best = None
        for d in GRID[model]:
            inputs = {
                f: (decide(s, d, probation(len(s))), by_name[f].windows)
                for f, s in raw[model].items()
            }
            result = score_corpus(inputs, standard)
            if best is None or result.normalised > best[1].normalised:
                best = (d, result)
        assert best is not None
        d, result = best
        detected = sum(f.detected for f in result.files)
        windows = sum(f.windows for f in result.files)
        outside = sum(f.false_positives for f in result.files)
        print(
            f"{model:<14} {d:>7} {result.normalised:>9.2f} {detected:>4}/{windows:<3} "
            f"{outside:>8} {1e6 * cpu[model] / rows:>7.1f}"
        )


if __name__ == "__main__":
    main()

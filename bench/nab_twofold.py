"""NAB in-sample and two-fold: is the parameter set's score more than a fit to the corpus?

    nice -n 10 python bench/nab_twofold.py [--nab-dir ../shared/datasets/nab] [--jobs 2]

``GRID`` is a small, fixed product of ``nab_detector.NabParams`` values; its first point is the
parameter set used before ``repeat_weight`` existed, and ``NAB_PARAMS`` is one of its points.
Every grid point scores every NAB series once. Then:

* **in-sample**: the grid point with the best standard score over the whole corpus, at its
  best corpus-wide threshold (what bench/nab.py reports for a chosen parameter set);
* **two-fold**: the corpus is split once (``fold_of``: within each category, files in name
  order alternate between folds A and B). The grid point and threshold that score best on A
  are scored on B, and the best of B on A. The two held-out raw scores are summed and
  normalised over the whole corpus as NAB does (``100 (S - S_null) / (S_perfect - S_null)``),
  so the figure is comparable with the in-sample one; each fold's held-out score is given too.

Deterministic (no randomness anywhere). Prints both tables and writes
bench/out/nab/twofold.json.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from nab import Series, load_corpus, nab_arguments
from nab_detector import NAB_PARAMS, NabParams, score_series
from nab_scoring import PROFILES, best_threshold, score_file

STANDARD = PROFILES[0]
GRID: Mapping[str, Sequence[float]] = {
    "repeat_weight": (1.0, 0.1, 0.05, 0.03),
    "residual_decay": (0.00005, 0.0001, 0.0002, 0.0003),
    "detect_score": (0.0188, 0.0173),
}
"""The searched values (32 points). ``residual_decay`` is a baseline parameter (``Params``);
the others are the adapter's."""

Corpus = dict[str, tuple[list[float], list[tuple[int, int]]]]


def grid_points() -> list[dict[str, float]]:
    """Every combination of ``GRID``, in a fixed order."""
    keys = list(GRID)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*GRID.values())]


def params_of(point: Mapping[str, float]) -> NabParams:
    """``NAB_PARAMS`` with a grid point's values (baseline ones go to ``baseline``)."""
    base_fields = set(asdict(NAB_PARAMS.baseline))
    baseline = replace(NAB_PARAMS.baseline, **{k: v for k, v in point.items() if k in base_fields})
    own = {k: v for k, v in point.items() if k not in base_fields}
    return replace(NAB_PARAMS, baseline=baseline, **own)


def fold_of(names: Sequence[str]) -> dict[str, str]:
    """Fold ``A`` or ``B`` of each file: alternate within each category, in name order."""
    out: dict[str, str] = {}
    by_category: dict[str, list[str]] = {}
    for name in sorted(names):
        by_category.setdefault(name.split("/")[0], []).append(name)
    for files in by_category.values():
        for k, name in enumerate(files):
            out[name] = "AB"[k % 2]
    return out


def raw_at(corpus: Corpus, threshold: float) -> float:
    """The raw standard score of ``corpus`` at a given threshold."""
    return sum(
        score_file(name, scores, windows, STANDARD, threshold).score
        for name, (scores, windows) in corpus.items()
    )


def windows_of(corpus: Corpus) -> int:
    """Windows that count (with a scorable row) in ``corpus``."""
    return sum(
        score_file(name, scores, windows, STANDARD, 2.0).windows
        for name, (scores, windows) in corpus.items()
    )


def normalised(raw: float, windows: int) -> float:
    """NAB's normalisation of a raw standard score over ``windows`` windows."""
    null, perfect = -STANDARD.fn * windows, STANDARD.tp * windows
    return 100.0 * (raw - null) / (perfect - null)


_CORPUS: list[Series] = []


def _load(nab_dir: Path) -> None:
    _CORPUS.extend(load_corpus(nab_dir))


def evaluate(point: dict[str, float]) -> dict[str, Any]:
    """One grid point: its best threshold and raw score on all, A and B, and its raw score on
    each fold at the other fold's threshold. The scores are dropped (they are large)."""
    params = params_of(point)
    folds = fold_of([s.name for s in _CORPUS])
    corpus: Corpus = {
        s.name: ([round(x, 6) for x in score_series(s.timestamps, s.values, params)], s.windows)
        for s in _CORPUS
    }
    part = {f: {n: v for n, v in corpus.items() if folds[n] == f} for f in "AB"}
    out: dict[str, Any] = {"point": point}
    for label, sub in (("all", corpus), ("A", part["A"]), ("B", part["B"])):
        threshold, raw = best_threshold(sub, STANDARD)
        out[label] = {"threshold": threshold, "raw": raw}
    out["A_at_B"] = raw_at(part["A"], out["B"]["threshold"])
    out["B_at_A"] = raw_at(part["B"], out["A"]["threshold"])
    return out


def summarise(results: list[dict[str, Any]], windows: dict[str, int]) -> dict[str, Any]:
    """In-sample and two-fold figures from every grid point's ``evaluate``."""

    def best(label: str) -> dict[str, Any]:
        # Ties go to the earlier grid point (the grid's order is fixed).
        return max(results, key=lambda r: r[label]["raw"])

    in_sample = best("all")
    on_a, on_b = best("A"), best("B")
    held_b = on_a["B_at_A"]  # chosen on A, scored on B
    held_a = on_b["A_at_B"]  # chosen on B, scored on A
    return {
        "grid_points": len(results),
        "in_sample": {
            "point": in_sample["point"],
            "threshold": in_sample["all"]["threshold"],
            "standard": round(normalised(in_sample["all"]["raw"], windows["all"]), 2),
        },
        "chosen_on_A": {
            "point": on_a["point"],
            "threshold": on_a["A"]["threshold"],
            "standard_on_A": round(normalised(on_a["A"]["raw"], windows["A"]), 2),
            "standard_on_B": round(normalised(held_b, windows["B"]), 2),
        },
        "chosen_on_B": {
            "point": on_b["point"],
            "threshold": on_b["B"]["threshold"],
            "standard_on_B": round(normalised(on_b["B"]["raw"], windows["B"]), 2),
            "standard_on_A": round(normalised(held_a, windows["A"]), 2),
        },
        "two_fold": round(normalised(held_a + held_b, windows["all"]), 2),
        "first_point": {
            "point": results[0]["point"],
            "standard": round(normalised(results[0]["all"]["raw"], windows["all"]), 2),
        },
        "nab_params": [
            {"point": r["point"], "standard": round(normalised(r["all"]["raw"], windows["all"]), 2)}
            for r in results
            if params_of(r["point"]) == NAB_PARAMS
        ],
    }


def main() -> None:
    args = nab_arguments(__doc__)
    nab_dir = args.nab_dir
    started = time.perf_counter()
    points = grid_points()
    with ProcessPoolExecutor(
        max_workers=max(1, args.jobs), initializer=_load, initargs=(nab_dir,)
    ) as pool:
        results = list(pool.map(evaluate, points, chunksize=1))
    corpus = load_corpus(nab_dir)
    folds = fold_of([s.name for s in corpus])
    empty: dict[str, Corpus] = {"all": {}, "A": {}, "B": {}}
    for s in corpus:
        entry = ([0.0] * len(s.values), s.windows)
        empty["all"][s.name] = entry
        empty[folds[s.name]][s.name] = entry
    windows = {label: windows_of(sub) for label, sub in empty.items()}
    summary = summarise(results, windows)
    summary["windows"] = windows
    summary["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "twofold.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"grid: {len(points)} points over {', '.join(GRID)}")
    print(f"windows: all {windows['all']}, A {windows['A']}, B {windows['B']}")
    first = summary["first_point"]
    print(f"first grid point (the earlier parameters) {first['point']}: {first['standard']}")
    for shipped in summary["nab_params"]:
        print(f"NAB_PARAMS {shipped['point']}: standard {shipped['standard']}")
    ins = summary["in_sample"]
    print(f"in-sample best {ins['point']}: standard {ins['standard']}")
    a, b = summary["chosen_on_A"], summary["chosen_on_B"]
    print(f"chosen on A {a['point']}: A {a['standard_on_A']}, held-out B {a['standard_on_B']}")
    print(f"chosen on B {b['point']}: B {b['standard_on_B']}, held-out A {b['standard_on_A']}")
    print(f"NAB two-fold standard={summary['two_fold']} in-sample={ins['standard']}")


if __name__ == "__main__":
    main()

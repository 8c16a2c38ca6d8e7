"""The Numenta Anomaly Benchmark (NAB v1.1) run against streamwatch's spend-spike algorithm.

    python bench/nab.py [--nab-dir ../shared/datasets/nab] [--jobs 2]

Reads every series under ``<nab-dir>/data`` (never copied into this repository), scores each one
row at a time with ``nab_detector.score_series`` (one parameter set for all files), writes the
results in NAB's format under bench/out/nab/ (``streamwatch/<category>/streamwatch_<file>.csv``
with ``timestamp,value,anomaly_score,label``), scores them as ``<nab-dir>/SCORING.md`` says
(``nab_scoring``), prints a table beside the published scoreboard and ends with the line
``NAB standard=<x> reward_low_FP=<y> reward_low_FN=<z>``. Also writes bench/out/nab/scores.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from common import OUT
from nab_detector import NAB_PARAMS, score_series
from nab_scoring import PROFILES, ProfileResult, score_corpus

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NAB_DIR = REPO.parent / "shared" / "datasets" / "nab"
DETECTOR = "streamwatch"

PUBLISHED_NAMES = {
    "ARTime": "ARTime",
    "numenta": "Numenta HTM",
    "contextOSE": "CAD OSE",
    "htmjava": "HTM Java",
    "numentaTM": "Numenta TM",
    "earthgeckoSkyline": "earthgecko Skyline",
    "knncad": "KNN CAD",
    "relativeEntropy": "Relative Entropy",
    "randomCutForest": "Random Cut Forest",
    "twitterADVec": "Twitter ADVec",
    "windowedGaussian": "Windowed Gaussian",
    "skyline": "Etsy Skyline",
    "bayesChangePt": "Bayesian Changepoint",
    "expose": "EXPoSE",
    "random": "Random",
    "null": "Null",
}


@dataclass(frozen=True, slots=True)
class Series:
    """One NAB data file: its rows and its anomaly windows as (first, last) row indices."""

    name: str
    timestamps: list[datetime]
    stamps: list[str]
    values: list[float]
    windows: list[tuple[int, int]]


def load_corpus(nab_dir: Path) -> list[Series]:
    """Every series listed in ``labels/combined_windows.json``, with its windows as rows."""
    windows = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    out = []
    for name in sorted(windows):
        stamps: list[str] = []
        values: list[float] = []
        with (nab_dir / "data" / name).open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for stamp, value in reader:
                stamps.append(stamp)
                values.append(float(value))
        timestamps = [datetime.fromisoformat(s) for s in stamps]
        row_of = {t: i for i, t in enumerate(timestamps)}
        rows = [
            (row_of[datetime.fromisoformat(a)], row_of[datetime.fromisoformat(b)])
            for a, b in windows[name]
        ]
        out.append(Series(name, timestamps, stamps, values, rows))
    return out


def _score(series: Series) -> list[float]:
    # Scored as written to the results files (six decimals), so that they score the same.
    return [round(s, 6) for s in score_series(series.timestamps, series.values, NAB_PARAMS)]


def write_results(out_dir: Path, series: Series, scores: list[float]) -> None:
    """One results CSV in NAB's layout: ``<detector>/<category>/<detector>_<file>.csv``."""
    category, file_name = series.name.split("/", 1)
    folder = out_dir / DETECTOR / category
    folder.mkdir(parents=True, exist_ok=True)
    inside = [0] * len(scores)
    for first, last in series.windows:
        for i in range(first, last + 1):
            inside[i] = 1
    with (folder / f"{DETECTOR}_{file_name}").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score", "label"])
        for stamp, value, score, label in zip(
            series.stamps, series.values, scores, inside, strict=True
        ):
            writer.writerow([stamp, repr(value), f"{score:.6f}", label])


def published(nab_dir: Path) -> dict[str, dict[str, float]]:
    """The published normalised scores by detector (results/final_results.json)."""
    raw = json.loads((nab_dir / "results" / "final_results.json").read_text())
    return {PUBLISHED_NAMES.get(name, name): scores for name, scores in raw.items()}


def print_report(results: dict[str, ProfileResult], nab_dir: Path, seconds: float) -> None:
    ours = {name: r.normalised for name, r in results.items()}
    board = published(nab_dir)
    board[f"{DETECTOR} (this run)"] = ours
    width = max(len(name) for name in board)
    print(f"{'detector':<{width}}  {'standard':>9}  {'low_FP':>9}  {'low_FN':>9}")
    print("-" * (width + 35))
    for name, scores in sorted(board.items(), key=lambda kv: -kv[1]["standard"]):
        marker = "  <--" if name.startswith(DETECTOR) else ""
        print(
            f"{name:<{width}}  {scores['standard']:>9.1f}  {scores['reward_low_FP_rate']:>9.1f}"
            f"  {scores['reward_low_FN_rate']:>9.1f}{marker}"
        )
    std = results["standard"]
    windows = sum(f.windows for f in std.files)
    detected = sum(f.detected for f in std.files)
    false_pos = sum(f.false_positives for f in std.files)
    print()
    print(
        f"standard profile: threshold {std.threshold:.4f}, raw {std.raw:.2f} "
        f"(null {std.null:.0f}, perfect {std.perfect:.0f}); windows detected {detected}/{windows}, "
        f"detections outside windows {false_pos}; {seconds:.1f} s"
    )
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for f in std.files:
        counts = by_category[f.name.split("/")[0]]
        counts[0] += f.detected
        counts[1] += f.windows
        counts[2] += f.false_positives
    for category, (det, win, fps) in sorted(by_category.items()):
        print(f"  {category:<24} windows {det:>3}/{win:<3} outside {fps:>4}")


def nab_arguments(
    doc: str, extra: Callable[[argparse.ArgumentParser], object] | None = None
) -> argparse.Namespace:
    """The options every NAB benchmark takes (``--nab-dir``, ``--out``, ``--jobs``), plus what
    ``extra`` adds; ``nab_dir`` comes back resolved, and a missing corpus ends the program."""
    parser = argparse.ArgumentParser(description=doc.split("\n", maxsplit=1)[0])
    parser.add_argument("--nab-dir", type=Path, default=DEFAULT_NAB_DIR)
    parser.add_argument("--out", type=Path, default=OUT / "nab")
    parser.add_argument("--jobs", type=int, default=2)
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    args.nab_dir = args.nab_dir.resolve()
    if not (args.nab_dir / "labels" / "combined_windows.json").exists():
        raise SystemExit(f"no NAB corpus at {args.nab_dir} (pass --nab-dir)")
    return args


def main() -> None:
    args = nab_arguments(__doc__)
    nab_dir = args.nab_dir
    started = time.perf_counter()
    corpus = load_corpus(nab_dir)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        all_scores = list(pool.map(_score, corpus, chunksize=1))
    for series, scores in zip(corpus, all_scores, strict=True):
        write_results(args.out, series, scores)
    inputs = {s.name: (scores, s.windows) for s, scores in zip(corpus, all_scores, strict=True)}
    results = {p.name: score_corpus(inputs, p) for p in PROFILES}
    seconds = time.perf_counter() - started
    summary = {
        name: {
            "normalised": round(r.normalised, 3),
            "raw": round(r.raw, 4),
            "threshold": r.threshold,
            "windows_detected": sum(f.detected for f in r.files),
            "windows": sum(f.windows for f in r.files),
            "detections_outside_windows": sum(f.false_positives for f in r.files),
        }
        for name, r in results.items()
    }
    (args.out / "scores.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_report(results, nab_dir, seconds)
    print(
        f"NAB standard={results['standard'].normalised:.2f} "
        f"reward_low_FP={results['reward_low_FP_rate'].normalised:.2f} "
        f"reward_low_FN={results['reward_low_FN_rate'].normalised:.2f}"
    )


if __name__ == "__main__":
    main()

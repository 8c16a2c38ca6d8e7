"""``python -m streamwatch.generator``: write a dataset, or time generation.

Examples::

    python -m streamwatch.generator --customers 50 --days 30 --out events.jsonl \\
        --labels labels.jsonl
    python -m streamwatch.generator --customers 320 --days 120 --bench
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from streamwatch.generator.config import GeneratorConfig
from streamwatch.generator.dataset import write_dataset
from streamwatch.generator.stream import Collector, iter_records


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m streamwatch.generator", description=__doc__)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--customers", type=int, default=50)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2026-10-01T00:00:00Z")
    p.add_argument(
        "--incidents",
        default="budget_overrun,provider_notice",
        help="comma-separated scenario names",
    )
    p.add_argument("--incident-rate", type=float, default=0.2)
    p.add_argument("--duplicate-rate", type=float, default=0.0)
    p.add_argument("--bad-rate", type=float, default=0.0)
    p.add_argument("--max-events", type=int, default=None)
    p.add_argument("--out", help="events JSONL path")
    p.add_argument("--labels", help="labels JSONL path")
    p.add_argument(
        "--bench", action="store_true", help="generate without writing and print events per second"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    cfg = GeneratorConfig(
        seed=args.seed,
        customers=args.customers,
        days=args.days,
        start=args.start,
        incidents=tuple(n for n in args.incidents.split(",") if n),
        incident_rate=args.incident_rate,
        duplicate_rate=args.duplicate_rate,
        bad_rate=args.bad_rate,
        max_events=args.max_events,
    )
    began = time.perf_counter()
    if args.bench or not args.out:
        col = Collector()
        for _ in iter_records(cfg, col):
            pass
        events, labels = col.events, len(col.labels())
    else:
        stats = write_dataset(cfg, args.out, args.labels)
        events, labels = stats.events, stats.labels
    took = time.perf_counter() - began
    rate = events / took if took > 0 else float("inf")
    sys.stdout.write(f"{events} events, {labels} labels in {took:.2f} s ({rate:,.0f} events/s)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

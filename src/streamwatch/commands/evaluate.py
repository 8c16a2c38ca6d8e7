"""``streamwatch evaluate``: recall, precision and detection delay of alerts against labels."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "score an alerts JSONL file against a labels JSONL file, per kind"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", type=Path)
    parser.add_argument("alerts", type=Path)
    parser.add_argument(
        "--tolerance", type=int, default=3600, help="seconds an alert may follow a label's end"
    )


def run(args: argparse.Namespace) -> int:
    from streamwatch.evaluate import evaluate, format_report, load_jsonl
    from streamwatch.generator.scenarios import CONSEQUENCES

    report = evaluate(
        load_jsonl(args.labels),
        load_jsonl(args.alerts),
        tolerance_s=args.tolerance,
        consequences=CONSEQUENCES,
    )
    print(format_report(report))
    return 0

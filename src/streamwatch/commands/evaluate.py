"""``streamwatch evaluate``: recall, precision and detection delay of alerts against labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "score an alerts JSONL file against a labels JSONL file, per kind"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", type=Path, help="labels JSONL (from streamwatch generate)")
    parser.add_argument("alerts", type=Path, help="alerts JSONL (from replay or the alerts topic)")
    parser.add_argument(
        "--tolerance",
        type=int,
        default=3600,
        help="seconds an alert may follow a label's end (default 3600)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from streamwatch.evaluate import evaluate, format_report, load_jsonl
    from streamwatch.generator.scenarios import CONSEQUENCES

    report = evaluate(
        load_jsonl(args.labels),
        load_jsonl(args.alerts),
        tolerance_s=args.tolerance,
        consequences=CONSEQUENCES,
    )
    if args.json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(report.as_dict(), option=orjson.OPT_APPEND_NEWLINE))
    else:
        print(format_report(report))
    return 0

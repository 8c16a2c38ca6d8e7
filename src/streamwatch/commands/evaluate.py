"""``streamwatch evaluate``: recall, precision and detection delay of alerts against labels,
after the alerts file's own summary by kind (alerts, revisions, customers, money at risk; see
``streamwatch.kind_summary``). ``--json`` gives both as one object, the summary under
``by_kind``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamwatch import exits

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
    from streamwatch.kind_summary import KindTally

    try:
        alerts = load_jsonl(args.alerts)
        report = evaluate(
            load_jsonl(args.labels),
            alerts,
            tolerance_s=args.tolerance,
            consequences=CONSEQUENCES,
        )
    except (OSError, ValueError) as exc:  # a missing file, a line that is no label or alert
        print(f"evaluate: {exc}", file=sys.stderr)
        return exits.USAGE
    tally = KindTally().add_all(alerts)  # after evaluate(), which names a malformed alert
    if args.json:
        import orjson

        document = {**report.as_dict(), "by_kind": tally.as_dict()}
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE))
    else:
        print(f"Alerts in {args.alerts}:")
        print(tally.format())
        print(f"\nAgainst the labels in {args.labels}:")
        print(format_report(report))
    return exits.OK

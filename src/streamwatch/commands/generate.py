"""``streamwatch generate``: seeded, realistic contract traffic with labelled incidents.

``--list-scenarios`` prints the incident scenarios ``--incidents`` can name, one a line. On a
terminal a progress bar (event time written out of the days asked for) is drawn on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamwatch import exits

HELP = "generate seeded contract traffic (JSONL) with labelled incidents"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=7, help="random seed: same seed, same traffic (default 7)"
    )
    parser.add_argument("--customers", type=int, default=50, help="customers (default 50)")
    parser.add_argument("--days", type=int, default=30, help="days of traffic (default 30)")
    parser.add_argument(
        "--start",
        default="2026-10-01T00:00:00Z",
        help="RFC 3339 start time (default 2026-10-01T00:00:00Z)",
    )
    parser.add_argument(
        "--incidents",
        default="budget_overrun,provider_notice",
        help="comma-separated scenario names to inject ('' for none; --list-scenarios"
        " names them all; default budget_overrun,provider_notice)",
    )
    parser.add_argument(
        "--list-scenarios",
        action="store_true",
        help="print every scenario --incidents can name, with what it does, and exit",
    )
    parser.add_argument(
        "--incident-rate",
        type=float,
        default=0.2,
        help="share of customers given an incident (default 0.2)",
    )
    parser.add_argument(
        "--duplicate-rate",
        type=float,
        default=0.0,
        help="chance an event is repeated (same event_id) right after itself (default 0)",
    )
    parser.add_argument(
        "--bad-rate",
        type=float,
        default=0.0,
        help="chance a malformed line follows an event (default 0)",
    )
    parser.add_argument(
        "--delivery",
        choices=("event_time", "arrival"),
        default="event_time",
        help="order of the lines: event_time (default), or arrival: usage as a billing system"
        " delivers it, per subscription and hour in batches 1-24 h late, some sent twice",
    )
    parser.add_argument(
        "--redelivery-rate",
        type=float,
        default=0.01,
        help="with --delivery arrival: share of usage batches delivered a second time, same"
        " event_ids, 1-24 h after the first, half of them with costs restated by 1-10%%"
        " (default 0.01)",
    )
    parser.add_argument("--max-events", type=int, default=None, help="stop after this many")
    parser.add_argument("--out", type=Path, help="events JSONL file to write (required)")
    parser.add_argument("--labels", type=Path, help="labels JSONL file to write")


def run(args: argparse.Namespace) -> int:
    from streamwatch.generator import GeneratorConfig, write_dataset
    from streamwatch.generator.describe import describe_scenarios, format_scenarios
    from streamwatch.progress import Progress

    if args.list_scenarios:
        print(format_scenarios(describe_scenarios()))
        return exits.OK
    if args.out is None:
        print("generate: --out FILE is required (or --list-scenarios)", file=sys.stderr)
        return exits.USAGE
    incidents = tuple(name for name in args.incidents.split(",") if name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    config = GeneratorConfig(
        seed=args.seed,
        customers=args.customers,
        days=args.days,
        start=args.start,
        incidents=incidents,
        incident_rate=args.incident_rate,
        duplicate_rate=args.duplicate_rate,
        bad_rate=args.bad_rate,
        max_events=args.max_events,
        delivery=args.delivery,
        redelivery_rate=args.redelivery_rate,
    )
    try:
        progress = Progress(args.days * 86_400, "generate")
        stats = write_dataset(config, args.out, args.labels, progress)
    except ValueError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return exits.USAGE
    print(
        f"wrote {stats.events} events ({stats.duplicates} duplicates, {stats.bad_lines} "
        f"malformed lines) to {args.out}"
    )
    if args.labels is not None:
        print(f"wrote {stats.labels} labels to {args.labels}")
    return exits.OK

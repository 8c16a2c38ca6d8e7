"""``streamwatch evaluate``: recall, precision and detection delay of alerts against labels.

Two ways in: score a labels file against an alerts file (after the alerts file's own summary by
kind: alerts, revisions, customers, money at risk; see ``streamwatch.kind_summary``; ``--json``
gives both as one object, the summary under ``by_kind``), or, with ``--seeds``, generate the
scenarios of ``streamwatch.trial`` on each seed, run them through the detectors in-process and
print the per-kind table (precision), the per-scenario table (recall within each scenario's
named delay), the look-alikes' restrict/suspend count and money at risk against the loss that
followed (``streamwatch.scorecard``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamwatch import exits

if TYPE_CHECKING:
    from streamwatch.scorecard import Scorecard

HELP = "score alerts against labels per kind, or (--seeds) run the scenario trials and score them"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labels", type=Path, nargs="?", help="labels JSONL (streamwatch generate)")
    parser.add_argument(
        "alerts", type=Path, nargs="?", help="alerts JSONL (from replay or the alerts topic)"
    )
    parser.add_argument(
        "--tolerance",
        type=int,
        default=3600,
        help="seconds an alert may follow a label's end (default 3600)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--seeds",
        help="comma-separated seeds: generate and run the scenario trials instead of reading files",
    )
    parser.add_argument(
        "--customers", type=int, default=56, help="customers per trial (default 56)"
    )
    parser.add_argument("--days", type=int, default=30, help="days per trial (default 30)")
    parser.add_argument("--out", type=Path, help="with --seeds: also write the JSON form here")


def run(args: argparse.Namespace) -> int:
    from streamwatch.evaluate import evaluate, format_report, load_jsonl
    from streamwatch.generator.scenarios import CONSEQUENCES
    from streamwatch.kind_summary import KindTally

    if args.seeds:
        return _trials(args)
    if args.labels is None or args.alerts is None:
        print("streamwatch evaluate: give LABELS and ALERTS, or --seeds", file=sys.stderr)
        return exits.USAGE
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


def _trials(args: argparse.Namespace) -> int:
    from streamwatch.evaluate import evaluate, format_report
    from streamwatch.generator.scenarios import CONSEQUENCES, LOOKALIKES
    from streamwatch.scorecard import format_scorecard, score, stretch
    from streamwatch.trial import pooled, run_trial

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    runs = [run_trial(seed, customers=args.customers, days=args.days) for seed in seeds]
    pool = pooled(runs)
    report = evaluate(
        stretch(pool.labels, args.tolerance),
        pool.alerts,
        tolerance_s=args.tolerance,
        match_revisions=True,
        consequences=CONSEQUENCES,
        scenarios_of=pool.scenarios_of,
    )
    card = score(
        pool.labels,
        pool.alerts,
        pool.requests,
        pool.scenarios_of,
        LOOKALIKES,
        tolerance_s=args.tolerance,
    )
    if args.json or args.out is not None:
        import orjson

        doc = {"seeds": seeds, "kinds": report.as_dict(), "scenarios": _card_dict(card)}
        raw = orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_INDENT_2)
        if args.out is not None:
            args.out.write_bytes(raw)
        if args.json:
            sys.stdout.buffer.write(raw)
            return exits.OK
    print(
        f"seeds {', '.join(map(str, seeds))}: {args.customers} customers x {args.days} days "
        f"each, {pool.events} events\n"
    )
    print(format_report(report))
    print(format_scorecard(card))
    return exits.OK


def _card_dict(card: Scorecard) -> dict[str, object]:
    from dataclasses import asdict

    good, total = card.within_factor()
    return {
        "rows": [{**asdict(r), "recall": r.recall} for r in card.rows],
        "harsh": dict(card.harsh),
        "lookalike_customers": dict(card.lookalike_customers),
        "money_within_factor": [good, total],
    }

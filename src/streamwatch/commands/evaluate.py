"""``streamwatch evaluate``: recall, precision and detection delay of alerts against labels.

Two ways in: score a labels file against an alerts file (after the alerts file's own summary by
kind: alerts, revisions, customers, money at risk; see ``streamwatch.kind_summary``; ``--json``
gives both as one object, the summary under ``by_kind``), or, with ``--seeds``, generate the
scenarios of ``streamwatch.trial`` on each seed, run them through the detectors in-process and
print the per-kind table (precision), the per-scenario table (recall within each scenario's
named delay), the look-alikes' restrict/suspend count and money at risk against the loss that
followed (``streamwatch.scorecard``).

``--delivery arrival`` generates the trials' usage in arrival order (per subscription and hour,
1-24 h late; ``streamwatch.generator.arrival``) and replays it as the live worker would read
it; ``--delivery both`` runs each seed both ways and prints the two orders side by side
(``streamwatch.delivery_compare``). ``--sort`` replays with the analysts' lateness sort and
``--allowed-lateness-s`` sets the core's allowed lateness, to see what either changes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from streamwatch import exits

if TYPE_CHECKING:
    from streamwatch.delivery_compare import DeliveryRun
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
    parser.add_argument(
        "--delivery",
        choices=("event_time", "arrival", "both"),
        default="event_time",
        help="with --seeds: the generated lines' order; both: run each and compare"
        " (default event_time)",
    )
    parser.add_argument(
        "--sort",
        action="store_true",
        help="with --seeds: replay with the analysts' lateness sort (replay --sort)",
    )
    parser.add_argument(
        "--allowed-lateness-s",
        type=int,
        default=None,
        help="with --seeds: the core's allowed lateness of activity and payments in seconds"
        " (default: the core's, 3600)",
    )
    parser.add_argument(
        "--usage-lateness-s",
        type=int,
        default=None,
        help="with --seeds: the core's allowed lateness of usage in seconds (default: the"
        " core's, 172800)",
    )


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
    from streamwatch.detection_delay import format_delays
    from streamwatch.evaluate import format_report
    from streamwatch.scorecard import format_scorecard

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.delivery == "both":
        return _both(args, seeds)
    run = _run(args, seeds, args.delivery)
    if args.json or args.out is not None:
        doc = {
            "seeds": seeds,
            "kinds": run.report.as_dict(),
            "scenarios": _card_dict(run.card),
            "delays": [d.to_dict() for d in run.delays],
        }
        if _write_json(args, doc):
            return exits.OK
    print(
        f"seeds {', '.join(map(str, seeds))}: {args.customers} customers x {args.days} days "
        f"each, {run.events} events\n"
    )
    print(format_report(run.report))
    print("detection delay (hours; p50 / p95):")
    print("\n".join(format_delays(run.delays)) + "\n")
    print(format_scorecard(run.card))
    return exits.OK


def _write_json(args: argparse.Namespace, doc: Mapping[str, object]) -> bool:
    """Write ``doc`` to ``--out`` and, with ``--json``, to stdout; whether it went to stdout
    (then nothing else is printed)."""
    import orjson

    raw = orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_INDENT_2)
    if args.out is not None:
        args.out.write_bytes(raw)
    if args.json:
        sys.stdout.buffer.write(raw)
    return bool(args.json)


def _both(args: argparse.Namespace, seeds: list[int]) -> int:
    """Event-time order, then arrival order, of the same seeds, side by side."""
    from streamwatch.delivery_compare import comparison_dict, format_comparison

    first, second = (_run(args, seeds, delivery) for delivery in ("event_time", "arrival"))
    if args.json or args.out is not None:
        doc = {
            "seeds": seeds,
            "sort": args.sort,
            "allowed_lateness_s": args.allowed_lateness_s,
            "usage_lateness_s": args.usage_lateness_s,
            **comparison_dict(first, second),
        }
        if _write_json(args, doc):
            return exits.OK
    from streamwatch.core.engine import lateness_settings

    settings = lateness_settings(args.allowed_lateness_s, args.usage_lateness_s)
    lateness = f"{settings.allowed_lateness_s} s, of usage {settings.usage_lateness_s} s"
    print(
        f"seeds {', '.join(map(str, seeds))}: {args.customers} customers x {args.days} days "
        f"each; replay {'sorted by event time' if args.sort else 'in line order'}, "
        f"allowed lateness {lateness}\n"
    )
    print(format_comparison(first, second))
    return exits.OK


def _run(args: argparse.Namespace, seeds: list[int], delivery: str) -> DeliveryRun:
    """The trials of ``seeds`` delivered in ``delivery`` order, pooled and scored."""
    from streamwatch.delivery_compare import DeliveryRun
    from streamwatch.detection_delay import detection_delays
    from streamwatch.evaluate import evaluate
    from streamwatch.generator.scenarios import CONSEQUENCES, LOOKALIKES
    from streamwatch.scorecard import score, stretch
    from streamwatch.trial import pooled, run_trial

    runs = [
        run_trial(
            seed,
            customers=args.customers,
            days=args.days,
            delivery="arrival" if delivery == "arrival" else "event_time",
            sort=args.sort,
            allowed_lateness_s=args.allowed_lateness_s,
            usage_lateness_s=args.usage_lateness_s,
        )
        for seed in seeds
    ]
    pool = pooled(runs)
    stretched = stretch(pool.labels, args.tolerance)
    report = evaluate(
        stretched,
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
    return DeliveryRun(
        delivery=delivery,
        report=report,
        card=card,
        events=pool.events,
        processed=pool.processed,
        late=pool.late,
        duplicates=pool.duplicates,
        generated_duplicates=pool.generated_duplicates,
        dead_letters=pool.dead_letters,
        after_close=pool.after_close,
        delays=tuple(
            detection_delays(
                stretched,
                pool.alerts,
                [None if ms is None else ms / 1000 for ms in pool.evidence_arrival_ms],
                args.tolerance,
            )
        ),
    )


def _card_dict(card: Scorecard) -> dict[str, object]:
    from dataclasses import asdict

    good, total = card.within_factor()
    return {
        "rows": [{**asdict(r), "recall": r.recall} for r in card.rows],
        "harsh": dict(card.harsh),
        "lookalike_customers": dict(card.lookalike_customers),
        "attack_customers": dict(card.attack_customers),
        "enforced": {name: dict(by_action) for name, by_action in card.enforced.items()},
        "money_within_factor": [good, total],
    }

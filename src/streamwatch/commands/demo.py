"""``streamwatch demo``: generate two months of traffic for a few dozen customers, with one
incident of every kind and some benign look-alikes, run it through the detectors in-process (no
Kafka, no Redis) and print what a platform team would see."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "run generated traffic through the detectors in-process and summarise (no services)"

INCIDENTS = (
    "budget_overrun",
    "provider_notice",
    "spend_spike_sudden",
    "crypto_mining",
    "never_pays",
    "late_payer",
    "prepaid_chargeback",
    "identity_mismatch",
    "account_takeover",
    "stale_guest",
    "spam_fanout",
    "ddos_egress",
    # benign look-alikes: alerts on them are tolerated, not counted as true or false
    "promotion",
    "gpu_training",
    "traveller_signin",
    "mail_service",
)
"""One scenario per customer incident, round-robin; see ``streamwatch.generator.SCENARIOS``."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=7, help="random seed: same seed, same run (default 7)"
    )
    parser.add_argument("--customers", type=int, default=48, help="customers (default 48)")
    parser.add_argument("--days", type=int, default=60, help="days of traffic (default 60)")
    parser.add_argument("--out", type=Path, help="also write events, labels and results here")


def run(args: argparse.Namespace) -> int:
    import orjson

    from streamwatch.config import build_core
    from streamwatch.evaluate import evaluate, format_report
    from streamwatch.generator import GeneratorConfig, generate, write_jsonl, write_labels
    from streamwatch.generator.scenarios import CONSEQUENCES
    from streamwatch.replay.files import JsonlSink
    from streamwatch.replay.runner import ListSink, Replay, Source
    from streamwatch.summary import summarize

    config = GeneratorConfig(
        seed=args.seed,
        customers=args.customers,
        days=args.days,
        incidents=INCIDENTS,
        incident_rate=0.5,
        duplicate_rate=0.01,
        bad_rate=0.001,
    )
    generated = generate(config)
    records = list(generated.records())
    lines = [r if isinstance(r, bytes) else orjson.dumps(r) for r in records]
    print(
        f"Generated {len(generated.events)} events ({generated.duplicates} of them duplicates) "
        f"and {len(generated.bad_lines)} malformed lines for "
        f"{args.customers} customers over {args.days} days (seed {args.seed}).\n"
    )
    sink = ListSink()
    replay = Replay(build_core(), sink, clock=lambda: time.time_ns() // 1_000_000)
    started = time.perf_counter()
    stats = replay.run([Source(((line, n) for n, line in enumerate(lines, 1)), _origin)])
    elapsed = time.perf_counter() - started
    print(summarize(sink.alerts, sink.requests, replay.states))
    dead = sum(stats.dead_letters.values())
    print(
        f"\nDead-lettered: {dead} "
        + ", ".join(f"{code} {n}" for code, n in sorted(stats.dead_letters.items()))
    )
    print(f"Duplicates ignored: {stats.duplicates}; late events: {stats.late}")
    print("\nAgainst the generator's labels:")
    report = evaluate(
        generated.labels, [a.to_dict() for a in sink.alerts], consequences=CONSEQUENCES
    )
    print(format_report(report))
    print(f"\nProcessed {stats.lines} lines in {elapsed:.2f}s.")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_jsonl(records, args.out / "events.jsonl")
        write_labels(generated.labels, args.out / "labels.jsonl")
        with JsonlSink(
            args.out / "alerts.jsonl", args.out / "enforcement.jsonl", args.out / "dead.jsonl"
        ) as out:
            for alert in sink.alerts:
                out.alert(alert)
            for request in sink.requests:
                out.request(request)
            for record in sink.dead_letters:
                out.dead_letter(record)
        print(f"Wrote events, labels, alerts, enforcement and dead letters to {args.out}/")
    return 0


def _origin(number: int) -> dict[str, object]:
    return {"file": "<generated>", "line": number}

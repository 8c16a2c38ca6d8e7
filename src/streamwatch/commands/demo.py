"""``streamwatch demo``: generate two months of traffic for a few dozen customers, with one
incident of every alert kind and some benign look-alikes, run it through the detectors
in-process (no Kafka, no Redis) and print what a platform team would see.

``run_demo`` is the pure part (generate, replay, score), kept apart from the printing so that a
test can check that the default run raises every registered alert kind: a new detector whose
scenario is not in ``INCIDENTS`` fails that test rather than silently missing from the demo.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamwatch.evaluate import Report
    from streamwatch.generator.result import GenerationResult
    from streamwatch.replay.runner import ListSink, Replay, ReplayStats

HELP = "run generated traffic through the detectors in-process and summarise (no services)"

INCIDENTS = (
    "budget_overrun",  # budget_threshold
    "provider_notice",  # provider_notice
    "spend_spike_sudden",  # spend_spike
    "crypto_mining",  # crypto_mining
    "never_pays",  # usage_before_payment, payment_failure, collections
    "late_payer",  # collections, payment_failure
    "prepaid_chargeback",  # high_risk_instrument, usage_before_payment, chargeback
    "identity_mismatch",  # identity_mismatch
    "account_takeover",  # privilege_escalation
    "stale_guest",  # stale_access
    "spam_fanout",  # network_abuse
    "ddos_egress",  # network_abuse
    "fraud_ring",  # bot_signup
    # benign look-alikes: alerts on them are tolerated, not counted as true or false
    "promotion",
    "gpu_training",
    "traveller_signin",
    "mail_service",
)
"""One scenario per customer incident, round-robin; see ``streamwatch.generator.SCENARIOS``.
The comments name the kinds each is there for."""

SEED = 7
CUSTOMERS = 48
DAYS = 60
START = "2026-09-15T00:00:00Z"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"random seed: same seed, same run (default {SEED})"
    )
    parser.add_argument(
        "--customers", type=int, default=CUSTOMERS, help=f"customers (default {CUSTOMERS})"
    )
    parser.add_argument("--days", type=int, default=DAYS, help=f"days of traffic (default {DAYS})")
    parser.add_argument("--out", type=Path, help="also write events, labels and results here")


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What one demo run produced: the traffic, the replay's outputs and counts, the score."""

    generated: GenerationResult
    lines: list[bytes]
    sink: ListSink
    replay: Replay
    stats: ReplayStats
    report: Report
    seconds: float

    def kinds(self) -> frozenset[str]:
        """The alert kinds the run raised."""
        return frozenset(alert.kind for alert in self.sink.alerts)


def run_demo(
    seed: int = SEED,
    customers: int = CUSTOMERS,
    days: int = DAYS,
    clock: Callable[[], int] | None = None,
) -> DemoRun:
    """Generate the demo's traffic and replay it in-process. Deterministic in (seed, customers,
    days) but for ``detected_at``, which comes from ``clock`` (wall-clock milliseconds; the
    real clock by default)."""
    import orjson

    from streamwatch.config import build_core
    from streamwatch.evaluate import evaluate
    from streamwatch.generator import GeneratorConfig, generate
    from streamwatch.generator.scenarios import CONSEQUENCES
    from streamwatch.replay.runner import ListSink, Replay, Source

    config = GeneratorConfig(
        seed=seed,
        customers=customers,
        days=days,
        start=START,
        incidents=INCIDENTS,
        incident_rate=0.5,
        duplicate_rate=0.01,
        bad_rate=0.001,
    )
    generated = generate(config)
    lines = [r if isinstance(r, bytes) else orjson.dumps(r) for r in generated.records()]
    sink = ListSink()
    replay = Replay(build_core(), sink, clock=clock or (lambda: time.time_ns() // 1_000_000))
    started = time.perf_counter()
    stats = replay.run([Source(((line, n) for n, line in enumerate(lines, 1)), _origin)])
    seconds = time.perf_counter() - started
    report = evaluate(
        generated.labels, [a.to_dict() for a in sink.alerts], consequences=CONSEQUENCES
    )
    return DemoRun(generated, lines, sink, replay, stats, report, seconds)


def run(args: argparse.Namespace) -> int:
    from streamwatch.core.detectors.registry import registered_kinds
    from streamwatch.evaluate import format_report
    from streamwatch.summary import summarize

    demo = run_demo(args.seed, args.customers, args.days)
    generated, stats = demo.generated, demo.stats
    print(
        f"Generated {len(generated.events)} events ({generated.duplicates} of them duplicates) "
        f"and {len(generated.bad_lines)} malformed lines for "
        f"{args.customers} customers over {args.days} days (seed {args.seed}).\n"
    )
    print(summarize(demo.sink.alerts, demo.sink.requests, demo.replay.states))
    every = registered_kinds()
    missing = sorted(every - demo.kinds())
    print(
        f"Alert kinds raised: {len(every) - len(missing)} of {len(every)}"
        + (f" (not raised: {', '.join(missing)})" if missing else "")
    )
    dead = sum(stats.dead_letters.values())
    print(
        f"\nDead-lettered: {dead} "
        + ", ".join(f"{code} {n}" for code, n in sorted(stats.dead_letters.items()))
    )
    print(f"Duplicates ignored: {stats.duplicates}; late events: {stats.late}")
    print("\nAgainst the generator's labels:")
    print(format_report(demo.report))
    print(f"\nProcessed {stats.lines} lines in {demo.seconds:.2f}s.")
    if args.out is not None:
        _write(demo, args.out)
        print(f"Wrote events, labels, alerts, enforcement and dead letters to {args.out}/")
    return 0


def _write(demo: DemoRun, out: Path) -> None:
    from streamwatch.generator import write_jsonl, write_labels
    from streamwatch.replay.files import JsonlSink

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(demo.generated.records(), out / "events.jsonl")
    write_labels(demo.generated.labels, out / "labels.jsonl")
    with JsonlSink(out / "alerts.jsonl", out / "enforcement.jsonl", out / "dead.jsonl") as sink:
        for alert in demo.sink.alerts:
            sink.alert(alert)
        for request in demo.sink.requests:
            sink.request(request)
        for record in demo.sink.dead_letters:
            sink.dead_letter(record)


def _origin(number: int) -> dict[str, object]:
    return {"file": "<generated>", "line": number}

"""The spend-spike detector's figures: generated-stream quality, state size and replay cost.

    python bench/spend_spike.py [--events 1000000] [--seed 7]

1. Quality: a seeded generated stream with the spend scenarios (sudden and gradual spikes; the
   benign promotion, month-end batch, on/off weekday and steady growth look-alikes) through the
   core with spend_spike, scored by ``streamwatch.evaluate`` (recall, precision with benign
   look-alikes tolerated, detection delay).
2. State size: the orjson size of the spend-spike dump of every customer after that stream
   (median, p95, max; the aim is at most 4 KB).
3. Replay cost: bench/replay_throughput.py's input and path (decode, order, core, sinks to
   /dev/null), each in its own process, one after the other: with the detectors that ran before
   spend_spike (budget_threshold, provider_notice), then with spend_spike added. Prints events/s
   of both and their ratio (the aim is a ratio of at least 0.8).

Writes the same figures to bench/out/spend_spike.json; the last line sums them up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from common import OUT, Timer, emit, generated_file, peak_rss_mb, run_phase

SCENARIOS = (
    "spend_spike_sudden",
    "spend_spike_gradual",
    "promotion",
    "month_end_batch",
    "weekday_onoff",
    "steady_growth",
)


def quality(seed: int, customers: int, days: int) -> dict[str, Any]:
    """Evaluate spend_spike alerts on a generated stream; also measure its state sizes."""
    import orjson

    from streamwatch.config import load_policy
    from streamwatch.core.codec import event_from_dict
    from streamwatch.core.detectors.spend_spike import SpendSpikeDetector
    from streamwatch.core.engine import Core, Fleet
    from streamwatch.evaluate import evaluate
    from streamwatch.generator import GeneratorConfig, generate

    result = generate(
        GeneratorConfig(
            seed=seed,
            customers=customers,
            days=days,
            start="2026-10-01T00:00:00Z",
            incidents=SCENARIOS,
            incident_rate=0.5,
        )
    )
    fleet = Fleet(Core(load_policy(), detectors=[SpendSpikeDetector()]))
    alerts = []
    for doc in result.events:
        alerts.extend(a.to_dict() for a in fleet.step(event_from_dict(doc), 0).alerts)
    labels = [lab for lab in result.labels if lab["kind"] == "spend_spike"]
    spikes = [a for a in alerts if a["kind"] == "spend_spike"]
    score = evaluate(labels, spikes).kind("spend_spike")
    detector = next(d for d in fleet.core.detectors if d.name == "spend_spike")
    sizes = sorted(
        len(orjson.dumps(detector.dump(state.detectors["spend_spike"])))
        for state in fleet.states.values()
    )
    return {
        "events": len(result.events),
        "customers": customers,
        "days": days,
        "seed": seed,
        "spike_labels": score.labels,
        "benign_labels": sum(1 for lab in labels if lab["benign"]),
        "alerts": score.alerts,
        "revisions": len(spikes),
        "recall": score.recall,
        "precision": score.precision,
        "true_positives": score.true_positives,
        "false_positives": score.false_positives,
        "tolerated": score.tolerated,
        "delay_median_s": score.delay_median_s,
        "delay_p95_s": score.delay_p95_s,
        "state_bytes_median": statistics.median(sizes),
        "state_bytes_p95": sizes[max(0, round(0.95 * len(sizes)) - 1)],
        "state_bytes_max": sizes[-1],
    }


def phase_replay(path: Path, detectors: str) -> None:
    from streamwatch.config import load_policy
    from streamwatch.core.detectors.budget import BudgetDetector
    from streamwatch.core.detectors.provider_notice import ProviderNoticeDetector
    from streamwatch.core.detectors.spend_spike import SpendSpikeDetector
    from streamwatch.core.engine import Core
    from streamwatch.replay.files import JsonlSink, file_source
    from streamwatch.replay.runner import Replay

    chosen: list[Any] = [BudgetDetector(), ProviderNoticeDetector()]
    if detectors == "with-spend-spike":
        chosen.append(SpendSpikeDetector())
    devnull = Path("/dev/null")
    with Timer() as timer, JsonlSink(devnull, devnull, devnull) as sink:
        replay = Replay(
            Core(load_policy(), detectors=chosen),
            sink,
            clock=lambda: time.time_ns() // 1_000_000,
        )
        stats = replay.run([file_source(path)])
    emit({"events": stats.lines, "seconds": timer.seconds, "peak_rss_mb": peak_rss_mb()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--phase", choices=["replay"])
    parser.add_argument("--detectors", choices=["before", "with-spend-spike"])
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.phase == "replay":
        phase_replay(args.file, args.detectors)
        return
    started = time.perf_counter()
    figures = quality(args.seed, args.customers, args.days)
    path = generated_file(args.events)
    script = Path(__file__).resolve()
    before = run_phase(script, "replay", "--file", str(path), "--detectors", "before")
    after = run_phase(script, "replay", "--file", str(path), "--detectors", "with-spend-spike")
    before_rate = before["events"] / before["seconds"]
    after_rate = after["events"] / after["seconds"]
    figures.update(
        {
            "replay_events": after["events"],
            "replay_before_events_per_s": round(before_rate),
            "replay_with_spend_spike_events_per_s": round(after_rate),
            "replay_ratio": round(after_rate / before_rate, 3),
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "spend_spike.json").write_text(json.dumps(figures, indent=2) + "\n")
    f = figures
    print(
        f"generated: {f['events']:,} events, {f['customers']} customers, {f['days']} days, "
        f"seed {f['seed']}: {f['spike_labels']} spikes, {f['benign_labels']} benign look-alike "
        "labels (hourly during surges)"
    )
    print(
        f"alerts {f['alerts']} ({f['revisions']} revisions): true {f['true_positives']}, "
        f"false {f['false_positives']}, tolerated {f['tolerated']}"
    )
    print(
        f"state bytes per customer (orjson): median {f['state_bytes_median']:.0f}, "
        f"p95 {f['state_bytes_p95']}, max {f['state_bytes_max']}"
    )
    print(
        f"replay of {f['replay_events']:,} events: {f['replay_before_events_per_s']:,} events/s "
        f"before, {f['replay_with_spend_spike_events_per_s']:,} with spend_spike "
        f"(ratio {f['replay_ratio']:.3f})"
    )
    delay = f["delay_median_s"]
    print(
        f"spend_spike recall={f['recall']:.3f} precision={f['precision']:.3f} "
        f"delay_median_s={delay:.0f} state_bytes_max={f['state_bytes_max']} "
        f"replay_ratio={f['replay_ratio']:.3f}"
    )


if __name__ == "__main__":
    main()

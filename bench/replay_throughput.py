"""Replay throughput: events/s through the full replay path, against bare orjson parsing.

    python bench/replay_throughput.py [--events 1000000]

Generates (once, cached under bench/out/) a seeded file of contract events, then times in
separate processes, one after the other: (1) reading the file and ``orjson.loads`` of every
line, nothing else; (2) ``streamwatch replay``'s path: decode and validate, event-time ordering,
the core with every detector, writing alerts/requests to /dev/null. Prints events/s for each,
their ratio, and each phase's peak memory; writes the same as JSON to bench/out/replay.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from common import OUT, Timer, emit, generated_file, peak_rss_mb, run_phase


def phase_parse(path: Path) -> None:
    import orjson

    loads = orjson.loads
    count = 0
    with Timer() as timer, path.open("rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    emit({"events": count, "seconds": timer.seconds, "peak_rss_mb": peak_rss_mb()})


def phase_replay(path: Path) -> None:
    from streamwatch.config import build_core
    from streamwatch.replay.files import JsonlSink, file_source
    from streamwatch.replay.runner import Replay

    devnull = Path("/dev/null")
    with Timer() as timer, JsonlSink(devnull, devnull, devnull) as sink:
        replay = Replay(build_core(), sink, clock=lambda: time.time_ns() // 1_000_000)
        stats = replay.run([file_source(path)])
    emit(
        {
            "events": stats.lines,
            "seconds": timer.seconds,
            "peak_rss_mb": peak_rss_mb(),
            "alerts": stats.alerts,
            "customers": len(replay.states),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=["parse", "replay"])
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.phase == "parse":
        phase_parse(args.file)
        return
    if args.phase == "replay":
        phase_replay(args.file)
        return
    path = generated_file(args.events)
    script = Path(__file__).resolve()
    parse = run_phase(script, "parse", "--file", str(path))
    replay = run_phase(script, "replay", "--file", str(path))
    parse_rate = parse["events"] / parse["seconds"]
    replay_rate = replay["events"] / replay["seconds"]
    result = {
        "file": path.name,
        "events": replay["events"],
        "customers": replay["customers"],
        "alerts": replay["alerts"],
        "bare_parse_events_per_s": round(parse_rate),
        "replay_events_per_s": round(replay_rate),
        "replay_to_parse_ratio": round(replay_rate / parse_rate, 3),
        "parse_peak_rss_mb": round(parse["peak_rss_mb"], 1),
        "replay_peak_rss_mb": round(replay["peak_rss_mb"], 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "replay.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"input: {result['events']:,} events, {result['customers']} customers ({path.name})")
    print(f"{'phase':<14}{'events/s':>12}{'peak RSS MiB':>14}")
    print(f"{'bare orjson':<14}{parse_rate:>12,.0f}{parse['peak_rss_mb']:>14.1f}")
    print(f"{'replay':<14}{replay_rate:>12,.0f}{replay['peak_rss_mb']:>14.1f}")
    print(f"replay / bare parsing = {result['replay_to_parse_ratio']:.3f}")


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()

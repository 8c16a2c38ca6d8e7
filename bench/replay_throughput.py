"""Replay throughput: events/s through the full replay path, against bare orjson parsing.

    python bench/replay_throughput.py [--events 1000000] [--jobs 2]

Generates (once, cached under bench/out/) a seeded file of contract events, then times in
separate processes, one after the other: (1) reading the file and ``orjson.loads`` of every
line, nothing else; (2) ``streamwatch replay``'s path in one job: decode and validate,
event-time ordering, the core with every detector, ring links, writing alerts, requests and dead
letters to files under bench/out/; (3) the same with ``--jobs`` processes. Prints events/s for
each, the ratio of one job to bare parsing, the speed-up of the jobs, each phase's peak memory
(the parent's, for jobs), and the SHA-256 of each output file of (2) and (3): the wall clock is
fixed in both, so equal digests mean byte-identical outputs. Writes the same as JSON to
bench/out/replay.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from pathlib import Path

from common import OUT, Timer, emit, generated_file, peak_rss_mb, run_phase


def phase_parse(path: Path) -> None:
    import orjson

    loads = orjson.loads
    count = 0
    cpu = time.process_time()
    with Timer() as timer, path.open("rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    cpu = time.process_time() - cpu
    emit(
        {
            "events": count,
            "seconds": timer.seconds,
            "cpu_s": cpu,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def phase_replay(path: Path, jobs: int) -> None:
    from streamwatch.config import build_core
    from streamwatch.replay.files import JsonlSink, file_source
    from streamwatch.replay.runner import Replay

    out = OUT / f"replay-jobs{jobs}"
    files = [out / name for name in ("alerts.jsonl", "requests.jsonl", "dead.jsonl")]
    with Timer() as timer, JsonlSink(*files) as sink:
        # A fixed wall clock (detected_at), so that outputs compare byte for byte.
        replay = Replay(build_core(), sink, clock=lambda: FIXED_CLOCK_MS, jobs=jobs)
        stats = replay.run([file_source(path)])
    emit(
        {
            "events": stats.lines,
            "seconds": timer.seconds,
            "peak_rss_mb": peak_rss_mb(),
            "alerts": stats.alerts,
            "customers": stats.customers,
            "job_cpu_s": stats.job_cpu_s,
            "sha256": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files},
        }
    )


FIXED_CLOCK_MS = 1_800_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2, help="jobs of the parallel phase")
    parser.add_argument("--phase", choices=["parse", "replay"])
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.phase == "parse":
        phase_parse(args.file)
        return
    if args.phase == "replay":
        phase_replay(args.file, args.jobs)
        return
    path = generated_file(args.events)
    script = Path(__file__).resolve()
    parse = run_phase(script, "parse", "--file", str(path))
    one = run_phase(script, "replay", "--file", str(path), "--jobs", "1")
    many = run_phase(script, "replay", "--file", str(path), "--jobs", str(args.jobs))
    parse_rate = parse["events"] / parse["seconds"]
    one_rate = one["events"] / one["seconds"]
    many_rate = many["events"] / many["seconds"]
    # Per CPU second (the busiest job's, for several): what a core of its own would give,
    # whatever else the machine runs meanwhile.
    parse_cpu_rate = parse["events"] / parse["cpu_s"]
    one_cpu_rate = one["events"] / max(one["job_cpu_s"])
    many_cpu_rate = many["events"] / max(many["job_cpu_s"])
    result = {
        "file": path.name,
        "events": one["events"],
        "customers": one["customers"],
        "alerts": one["alerts"],
        "bare_parse_events_per_s": round(parse_rate),
        "replay_events_per_s": round(one_rate),
        "replay_to_parse_ratio": round(one_rate / parse_rate, 3),
        "bare_parse_events_per_cpu_s": round(parse_cpu_rate),
        "replay_events_per_cpu_s": round(one_cpu_rate),
        "replay_to_parse_cpu_ratio": round(one_cpu_rate / parse_cpu_rate, 3),
        "jobs": args.jobs,
        "replay_jobs_events_per_busiest_job_cpu_s": round(many_cpu_rate),
        "job_cpu_s": [round(s, 2) for s in many["job_cpu_s"]],
        "replay_jobs_events_per_s": round(many_rate),
        "jobs_speedup": round(many_rate / one_rate, 2),
        "identical_outputs": one["sha256"] == many["sha256"],
        "sha256": one["sha256"],
        "parse_peak_rss_mb": round(parse["peak_rss_mb"], 1),
        "replay_peak_rss_mb": round(one["peak_rss_mb"], 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "replay.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"input: {result['events']:,} events, {result['customers']} customers ({path.name})")
    print(f"{'phase':<18}{'events/s':>12}{'per CPU s':>12}{'peak RSS MiB':>14}")
    rows = [
        ("bare orjson", parse_rate, parse_cpu_rate, parse),
        ("replay, 1 job", one_rate, one_cpu_rate, one),
        (f"replay, {args.jobs} jobs", many_rate, many_cpu_rate, many),
    ]
    for name, rate, cpu_rate, phase in rows:
        print(f"{name:<18}{rate:>12,.0f}{cpu_rate:>12,.0f}{phase['peak_rss_mb']:>14.1f}")
    print(
        f"replay (1 job) / bare parsing = {result['replay_to_parse_ratio']:.3f}"
        f" (per CPU second: {result['replay_to_parse_cpu_ratio']:.3f})"
    )
    print(
        f"{args.jobs} jobs / 1 job = {result['jobs_speedup']:.2f} (per the busiest job's CPU"
        f" second: {many_cpu_rate / one_cpu_rate:.2f}; job CPU s: {result['job_cpu_s']})"
    )
    for name, digest in one["sha256"].items():
        same = "same" if many["sha256"][name] == digest else f"DIFFERS: {many['sha256'][name]}"
        print(f"  {name:<16}{digest[:16]}  {args.jobs} jobs: {same}")


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()

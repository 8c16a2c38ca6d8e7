"""Helpers shared by the benchmarks: a cached generated input file and per-phase subprocesses.

Each phase runs in its own Python process so that its peak memory (ru_maxrss) is its own, and
phases compared as a ratio run one after the other in the same invocation.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def generated_file(events: int, seed: int = 11) -> Path:
    """A JSONL file of ``events`` generated contract events (made once, then reused)."""
    from streamwatch.generator import GeneratorConfig, write_dataset

    path = OUT / f"events-{events}-seed{seed}.jsonl"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    days = 30
    # About 70 events per customer-day with the generator's archetypes; overshoot, then cut.
    customers = max(10, events // (days * 60))
    config = GeneratorConfig(
        seed=seed,
        customers=customers,
        days=days,
        incidents=("budget_overrun", "provider_notice"),
        incident_rate=0.2,
        max_events=events,
    )
    tmp = path.with_suffix(".tmp")
    written = write_dataset(config, tmp).events
    if written < events:
        raise SystemExit(f"generator gave {written} events, fewer than {events}; raise customers")
    tmp.rename(path)
    return path


def evaluate_seeds(seeds: list[int], customers: int, days: int, *extra: str) -> list[str]:
    """The ``streamwatch evaluate`` arguments that run the review's trials of ``seeds``."""
    return [
        "evaluate",
        "--seeds",
        ",".join(map(str, seeds)),
        "--customers",
        str(customers),
        "--days",
        str(days),
        *extra,
    ]


def streamwatch_env(prefix: str, kafka: str, redis: str, data_dir: str) -> dict[str, str]:
    """This process's environment with a streamwatch worker's settings for a benchmark: its
    topic prefix and app id (``<prefix>app``), servers, a data folder under bench/out/, and
    its metrics endpoint on a free port (two workers of one run must not share one)."""
    env = dict(os.environ)
    env.update(
        STREAMWATCH_KAFKA=kafka,
        STREAMWATCH_REDIS=redis,
        STREAMWATCH_TOPIC_PREFIX=prefix,
        STREAMWATCH_APP_ID=f"{prefix}app",
        STREAMWATCH_DATA_DIR=str(OUT / data_dir),
        STREAMWATCH_HTTP="127.0.0.1:0",
    )
    return env


def run_phase(script: Path, phase: str, *args: str) -> dict[str, Any]:
    """Run ``script --phase PHASE ARGS`` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, str(script), "--phase", phase, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict[str, Any]) -> None:
    """Print a phase result as the last line of stdout."""
    print(json.dumps(result))


class Timer:
    """Wall time of a block, in seconds."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


async def committed(kafka: str, group: str, topics: list[str]) -> int:
    """Messages of ``topics`` that consumer group ``group`` has committed, summed."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(meta.offset for tp, meta in offsets.items() if tp.topic in topics)
    finally:
        await admin.close()


def process_peak_rss_mb(pid: int) -> float:
    """Peak resident memory of process ``pid`` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class CatchUp:
    """How a streamwatch service consumed a backlog: all of it, and after its first commit."""

    total_s: float
    steady_s: float
    steady_n: int
    peak_rss_mb: float

    def rates(self, total: int) -> tuple[float, float]:
        """(messages/s from start-up, messages/s after the first commit)."""
        steady = self.steady_n / self.steady_s if self.steady_s > 0 else 0.0
        return total / self.total_s, steady


def run_until_consumed(
    command: list[str],
    env: dict[str, str] | list[dict[str, str]],
    log_path: Path,
    kafka: str,
    group: str,
    topics: list[str],
    total: int,
    poll_s: float = 0.5,
) -> CatchUp:
    """Run ``python -m streamwatch COMMAND`` (or ``python COMMAND...`` when the command is a
    script path) until ``group`` has committed ``total`` messages of ``topics`` (30 minutes at
    most), then stop it. With a list of environments, one process per environment, all in the
    group (peak memory: the largest)."""
    name = command[0]
    argv = (
        [sys.executable, *command]
        if name.endswith(".py")
        else [
            sys.executable,
            "-m",
            "streamwatch",
            *command,
        ]
    )
    envs = env if isinstance(env, list) else [env]
    log = log_path.open("wb")
    started = time.perf_counter()
    procs = [subprocess.Popen(argv, env=e, stdout=log, stderr=subprocess.STDOUT) for e in envs]
    first_at, first_done = None, 0
    try:
        while True:
            time.sleep(poll_s)
            for proc in procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited with {proc.returncode}; see {log_path}")
            done = asyncio.run(committed(kafka, group, topics))
            now = time.perf_counter()
            if first_at is None and done > 0:
                first_at, first_done = now, done
            if done >= total:
                break
            if now - started > 1800:
                raise SystemExit(f"{name} did not catch up in 30 min ({done}/{total})")
        rss = max(process_peak_rss_mb(proc.pid) for proc in procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        log.close()
    assert first_at is not None
    return CatchUp(now - started, now - first_at, total - first_done, rss)

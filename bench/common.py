"""Helpers shared by the benchmarks: a cached generated input file and per-phase subprocesses.

Each phase runs in its own Python process so that its peak memory (ru_maxrss) is its own, and
phases compared as a ratio run one after the other in the same invocation.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
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

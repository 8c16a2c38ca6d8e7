"""``replay --jobs N`` gives what one job gives: the same alerts, requests and dead letters, in
the same order, and the same counts, on every golden stream and on generated traffic with
fraud rings whose accounts sit on different partitions (so that links cross jobs)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

import orjson
import pytest

from golden.streams import STREAMS
from streamwatch.cli import main
from streamwatch.config import build_core
from streamwatch.core.rings import LINK_OPERATION
from streamwatch.generator import GeneratorConfig, generate
from streamwatch.pipeline.routing import partition_for
from streamwatch.replay.parallel import ReplayJobError
from streamwatch.replay.runner import ListSink, Replay, ReplayStats, Source

NOW_MS = 1_800_000_000_000
"""A fixed wall clock: ``detected_at`` must not differ between runs (each job has its own)."""


def _source(lines: list[bytes]) -> Source:
    return Source(((line, n) for n, line in enumerate(lines, 1)), lambda n: {"line": n})


def _replay(lines: list[bytes], jobs: int, **options: Any) -> tuple[dict[str, Any], ReplayStats]:
    sink = ListSink()
    replay = Replay(build_core(), sink, clock=lambda: NOW_MS, jobs=jobs, **options)
    stats = replay.run([_source(lines)])
    outputs = {
        "alerts": [a.to_dict() for a in sink.alerts],
        "requests": [r.to_dict() for r in sink.requests],
        "dead_letters": sink.dead_letters,
    }
    return outputs, stats


@cache
def _one_job(
    lines: tuple[bytes, ...], options: tuple[tuple[str, Any], ...]
) -> tuple[dict[str, Any], ReplayStats]:
    return _replay(list(lines), 1, **dict(options))


def _replay_in_one_job(lines: list[bytes], **options: Any) -> tuple[dict[str, Any], ReplayStats]:
    """``_replay(lines, 1, **options)``, run once per input and options: the reference several
    tests compare their numbers of jobs with (a fixed clock; each caller gets its own copy)."""
    return copy.deepcopy(_one_job(tuple(lines), tuple(sorted(options.items()))))


def _ring_traffic(seed: int) -> list[bytes]:
    """Generated traffic with rings, bursts, overruns and miners: built once per seed (each
    caller gets its own list)."""
    return list(_ring_lines(seed))


@cache
def _ring_lines(seed: int) -> tuple[bytes, ...]:
    result = generate(
        GeneratorConfig(
            seed=seed,
            customers=24,
            days=6,
            incidents=("fraud_ring", "signup_burst", "budget_overrun", "crypto_mining"),
            incident_rate=0.6,
            duplicate_rate=0.02,
            bad_rate=0.01,
        )
    )
    return tuple(r if isinstance(r, bytes) else orjson.dumps(r) for r in result.records())


def _assert_same(lines: list[bytes], jobs: int, **options: Any) -> dict[str, Any]:
    one, one_stats = _replay_in_one_job(lines, **options)
    many, many_stats = _replay(lines, jobs, **options)
    assert many == one
    assert replace(many_stats, job_cpu_s=[]) == replace(one_stats, job_cpu_s=[])
    assert len(many_stats.job_cpu_s) == jobs
    return one


@pytest.mark.parametrize("jobs", [2, 3])
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_golden_stream_gives_the_same_outputs_in_any_number_of_jobs(name: str, jobs: int) -> None:
    outputs = _assert_same(STREAMS[name](), jobs)
    assert outputs["alerts"], "the golden streams raise alerts"


@pytest.mark.parametrize("jobs", [2, 3, 4])
@pytest.mark.parametrize("seed", [1, 2])
def test_rings_across_partitions_give_the_same_outputs_in_any_number_of_jobs(
    seed: int, jobs: int
) -> None:
    lines = _ring_traffic(seed)
    outputs = _assert_same(lines, jobs)
    kinds = {a["kind"] for a in outputs["alerts"]}
    assert "bot_signup" in kinds
    assert outputs["dead_letters"], "the traffic has bad lines"
    # The test means something only if a ring spans the jobs' partitions.
    spans = set()
    for alert in outputs["alerts"]:
        if alert["kind"] == "bot_signup":
            members = {alert["customer_id"], *alert["evidence"]["members"]}
            spans.add(len({partition_for(m.encode(), 4) % jobs for m in members}))
    assert max(spans) > 1, "some ring links customers of different jobs"


def test_sorted_single_customer_replay_is_the_same_in_two_jobs() -> None:
    lines = _ring_traffic(3)
    first = orjson.loads(next(line for line in lines if b"fraud" not in line))
    _assert_same(lines, 2, sort=True)
    _assert_same(lines, 2, customer=first["customer_id"])


def test_links_found_in_one_job_reach_customers_of_the_other() -> None:
    lines = _ring_traffic(1)
    assert all(LINK_OPERATION.encode() not in line for line in lines), "links are derived"
    _, one = _replay_in_one_job(lines)
    _, two = _replay(lines, 2)
    assert two.links == one.links > 0


def test_more_jobs_than_partitions_use_one_per_partition() -> None:
    replay = Replay(build_core(), ListSink(), clock=lambda: 0, jobs=8, partitions=2)
    assert replay.jobs == 2


def test_a_failing_job_fails_the_replay() -> None:
    def broken() -> Any:
        yield b"{}", 1
        raise OSError("the disk went away")

    sink = ListSink()
    replay = Replay(build_core(), sink, clock=lambda: 0, jobs=2)
    with pytest.raises(ReplayJobError, match="the disk went away"):
        replay.run([Source(broken(), lambda n: {"line": n})])


def test_cli_jobs_write_the_same_files(tmp_path: Any, capsys: Any) -> None:
    lines = _ring_traffic(2)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")

    def run(jobs: int) -> Callable[[str], list[dict[str, Any]]]:
        out = tmp_path / f"jobs{jobs}"
        code = main(
            [
                "replay",
                str(source),
                "--jobs",
                str(jobs),
                "--alerts",
                str(out / "alerts.jsonl"),
                "--enforcement",
                str(out / "requests.jsonl"),
                "--dead-letter",
                str(out / "dead.jsonl"),
            ]
        )
        assert code == 0

        def read(name: str) -> list[dict[str, Any]]:
            docs = [orjson.loads(line) for line in (out / name).read_bytes().splitlines()]
            for doc in docs:  # wall clock: differs from run to run, jobs or not
                doc.pop("detected_at", None)
                doc.pop("requested_at", None)
                doc.pop("received_at", None)
            return docs

        return read

    one, two = run(1), run(2)
    for name in ("alerts.jsonl", "requests.jsonl", "dead.jsonl"):
        assert two(name) == one(name)
    assert one("alerts.jsonl")
    assert capsys.readouterr().out.count("replayed") == 2

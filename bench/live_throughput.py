"""Live throughput: events/s through the worker, against a bare consumer and a bare Faust agent.

    bash deploy/services.sh up
    python bench/live_throughput.py [--events 200000]

Uses a fresh topic prefix, produces the first N events of the replay benchmark's generated file
into the input topics (key = customer_id), then measures, one after the other in this run, each
from the start of the topics with its own consumer group: (1) a bare aiokafka consumer reading
them to the end, nothing else; (2) a bare Faust agent that only counts them
(``bench/bare_faust.py``: the framework's own ceiling); (3) ``streamwatch worker`` (a subprocess:
decode, partition pipelines, state table, core, transactional outputs, Redis view) until its
committed offsets reach the end, and the bytes it wrote to its state changelogs per input
byte; (4) two workers in one group. Reports events/s for each (the
Faust runs also after their first commit, which excludes start-up and the first rebalance), the
worker's ratios to the bare consumer and to the bare Faust agent, and peak memory; writes
bench/out/live.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from common import OUT, generated_file, run_until_consumed, streamwatch_env

TOPIC_OF = {b"usage": "usage", b"activity": "activity", b"payment": "payments"}


async def produce(kafka: str, prefix: str, lines: list[bytes]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, linger_ms=20, max_batch_size=512 * 1024, acks="all"
    )
    await producer.start()
    started = time.perf_counter()
    try:
        for line in lines:
            doc = orjson.loads(line)
            topic = prefix + TOPIC_OF[doc["type"].encode()]
            await producer.send(topic, line, key=doc["customer_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def bare_consume(kafka: str, topics: list[str], total: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        if len(partitions) < len(topics):
            await consumer._client.force_metadata_update()  # no public metadata refresh
            partitions = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.perf_counter()
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def topic_bytes(kafka: str, topic: str) -> int:
    """Bytes of keys and values of every committed record of ``topic`` (0 if it is absent)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # no public metadata refresh
        ids = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in ids]
        if not partitions:
            return 0
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        total = 0

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                total += sum(len(r.key or b"") + len(r.value or b"") for r in records)
        return total
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--one-worker", action="store_true", help="skip the two-worker phase")
    parser.add_argument("--kafka", default=os.environ.get("STREAMWATCH_KAFKA", "127.0.0.1:9092"))
    parser.add_argument(
        "--redis", default=os.environ.get("STREAMWATCH_REDIS", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    source = generated_file(1_000_000)
    with source.open("rb") as handle:
        lines = [line.rstrip(b"\n") for _, line in zip(range(args.events), handle, strict=False)]
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    env = streamwatch_env(prefix, args.kafka, args.redis, "live-data")
    subprocess.run(
        [sys.executable, "-m", "streamwatch", "topics", "apply"],
        env=env,
        check=True,
        capture_output=True,
    )
    topics = [prefix + name for name in ("usage", "activity", "payments")]
    produce_s = asyncio.run(produce(args.kafka, prefix, lines))
    bare_s = asyncio.run(bare_consume(args.kafka, topics, len(lines)))
    bare_faust = run_until_consumed(
        [
            str(Path(__file__).resolve().parent / "bare_faust.py"),
            args.kafka,
            f"{prefix}bare",
            *topics,
        ],
        env,
        OUT / "live-bare-faust.log",
        args.kafka,
        f"{prefix}bare",
        topics,
        len(lines),
    )
    worker = run_until_consumed(
        ["worker", "--log-level", "warning"],
        env,
        OUT / "live-worker.log",
        args.kafka,
        f"{prefix}app",
        topics,
        len(lines),
    )
    two_envs = [
        {
            **env,
            "STREAMWATCH_APP_ID": f"{prefix}two",
            "STREAMWATCH_DATA_DIR": str(OUT / f"live-data-{n}"),
        }
        for n in (1, 2)
    ]
    if args.one_worker:
        two = None
    else:
        two = run_until_consumed(
            ["worker", "--log-level", "warning"],
            two_envs,
            OUT / "live-two-workers.log",
            args.kafka,
            f"{prefix}two",
            topics,
            len(lines),
        )
    input_bytes = sum(len(line) for line in lines)
    changelog_bytes = sum(
        asyncio.run(topic_bytes(args.kafka, f"{prefix}app-{table}-changelog"))
        for table in ("customer-state", "ring-state")
    )
    bare_rate = len(lines) / bare_s
    faust_rate, faust_steady = bare_faust.rates(len(lines))
    worker_rate, steady_rate = worker.rates(len(lines))
    two_rate, two_steady = two.rates(len(lines)) if two is not None else (0.0, 0.0)
    result = {
        "events": len(lines),
        "produce_events_per_s": round(len(lines) / produce_s),
        "bare_consumer_events_per_s": round(bare_rate),
        "bare_faust_events_per_s_including_startup": round(faust_rate),
        "bare_faust_events_per_s_steady": round(faust_steady),
        "worker_events_per_s_including_startup": round(worker_rate),
        "worker_events_per_s_steady": round(steady_rate),
        "two_workers_events_per_s_including_startup": round(two_rate),
        "two_workers_events_per_s_steady": round(two_steady),
        "worker_to_bare_ratio": round(steady_rate / bare_rate, 4),
        "worker_to_bare_faust_ratio": round(steady_rate / faust_steady, 4),
        "bare_faust_peak_rss_mb": round(bare_faust.peak_rss_mb, 1),
        "worker_peak_rss_mb": round(worker.peak_rss_mb, 1),
        "input_bytes": input_bytes,
        "changelog_bytes": changelog_bytes,
        "changelog_bytes_per_input_byte": round(changelog_bytes / input_bytes, 3),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "live.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"input: {len(lines):,} events in 3 topics x 4 partitions (prefix {prefix})")
    print(f"{'phase':<44}{'events/s':>12}")
    rows = [
        ("bare aiokafka consumer", bare_rate),
        ("bare Faust agent (from start-up)", faust_rate),
        ("bare Faust agent (after first commit)", faust_steady),
        ("worker (from start-up)", worker_rate),
        ("worker (after first commit)", steady_rate),
        ("two workers (from start-up)", two_rate),
        ("two workers (after first commit)", two_steady),
    ]
    for label, rate in rows:
        if args.one_worker and label.startswith("two workers"):
            continue
        print(f"{label:<44}{rate:>12,.0f}")
    print(f"worker / bare consumer = {result['worker_to_bare_ratio']:.3f}")
    print(
        f"state changelog: {changelog_bytes:,} bytes for {input_bytes:,} input bytes "
        f"({result['changelog_bytes_per_input_byte']} per input byte)"
    )
    print(f"worker / bare Faust agent = {result['worker_to_bare_faust_ratio']:.3f}")
    print(f"peak RSS: worker {worker.peak_rss_mb:.1f} MiB, ", end="")
    print(f"bare Faust {bare_faust.peak_rss_mb:.1f} MiB")


if __name__ == "__main__":
    main()

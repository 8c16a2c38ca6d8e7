"""Enforce throughput: signed requests/s applied by ``streamwatch enforce`` with the log backend.

    bash deploy/services.sh up
    python bench/enforce_throughput.py [--requests 20000]

Uses a fresh topic prefix, consumer group and Redis prefix; produces N signed ``notify``
requests for N customers (no approval, no cap) to the enforcement topic, then runs the worker
(a subprocess: verify the signature, load and create the record in Redis, call the log backend,
record the outcome, send the result, commit) until its committed offsets reach the end.
Reports requests/s from start-up and in the steady state (after the first commit), checks that
every request has exactly one result, and writes bench/out/enforce.json. The same requests are
then delivered again to a second group, to measure how fast repeats are recognised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from common import OUT, run_until_consumed

KEY_ID = "bench"
KEY = b"bench-signing-secret"


def _env(prefix: str, kafka: str, redis: str, app_id: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STREAMWATCH_KAFKA=kafka,
        STREAMWATCH_REDIS=redis,
        STREAMWATCH_TOPIC_PREFIX=prefix,
        STREAMWATCH_APP_ID=app_id,
        STREAMWATCH_SIGNING_KEYS=f"{KEY_ID}:{KEY.decode()}",
    )
    return env


def requests(total: int) -> list[tuple[bytes, bytes]]:
    from streamwatch.core.ids import stable_id
    from streamwatch.core.signing import signed

    out = []
    for n in range(total):
        customer = f"bench-{n:07d}"
        alert_id = stable_id("alert", customer)
        doc = {
            "request_id": stable_id(customer, "budget-notify", "notify", alert_id),
            "customer_id": customer,
            "action": "notify",
            "subscription_ids": [f"sub-{n}"],
            "policy": "budget-exhausted-notify",
            "alert_ids": [alert_id],
            "reason": "Spend reached 100% of the monthly budget.",
            "dry_run": False,
            "requires_approval": False,
            "requested_at": "2026-10-01T03:00:00Z",
        }
        out.append((customer.encode(), orjson.dumps(signed(doc, KEY_ID, KEY))))
    return out


async def produce(kafka: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=20, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def count_results(kafka: str, topic: str) -> tuple[int, int]:
    """(results, distinct request ids) on the results topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # no public metadata refresh
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        seen, ids = 0, set()
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                for record in records:
                    seen += 1
                    ids.add(orjson.loads(record.value)["request_id"])
        return seen, len(ids)
    finally:
        await consumer.stop()


def run_worker(env: dict[str, str], kafka: str, group: str, topic: str, total: int, name: str):
    """(requests/s from start-up, requests/s after the first commit) of one enforce run."""
    run = run_until_consumed(
        ["enforce", "--log-level", "info"],
        env,
        OUT / f"enforce-{name}.log",
        kafka,
        group,
        [topic],
        total,
        poll_s=0.25,
    )
    return run.rates(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--kafka", default=os.environ.get("STREAMWATCH_KAFKA", "127.0.0.1:9092"))
    parser.add_argument(
        "--redis", default=os.environ.get("STREAMWATCH_REDIS", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    env = _env(prefix, args.kafka, args.redis, f"{prefix}app")
    subprocess.run(
        [sys.executable, "-m", "streamwatch", "topics", "apply"],
        env=env,
        check=True,
        capture_output=True,
    )
    topic = prefix + "enforcement"
    OUT.mkdir(parents=True, exist_ok=True)
    asyncio.run(produce(args.kafka, topic, requests(args.requests)))
    first, first_steady = run_worker(
        env, args.kafka, f"{prefix}app-enforce", topic, args.requests, "apply"
    )
    results, distinct = asyncio.run(count_results(args.kafka, prefix + "enforcement-results"))
    again_env = _env(prefix, args.kafka, args.redis, f"{prefix}again")
    repeat, repeat_steady = run_worker(
        again_env, args.kafka, f"{prefix}again-enforce", topic, args.requests, "repeat"
    )
    results_after, _ = asyncio.run(count_results(args.kafka, prefix + "enforcement-results"))
    result = {
        "requests": args.requests,
        "applied_per_s_including_startup": round(first),
        "applied_per_s_steady": round(first_steady),
        "repeats_per_s_including_startup": round(repeat),
        "repeats_per_s_steady": round(repeat_steady),
        "results": results,
        "distinct_requests_with_results": distinct,
        "results_added_by_repeats": results_after - results,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    (OUT / "enforce.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.requests:,} signed notify requests, 4 partitions, log backend (prefix {prefix})")
    print(f"{'phase':<36}{'requests/s':>12}")
    print(f"{'apply (from start-up)':<36}{first:>12,.0f}")
    print(f"{'apply (steady, after first commit)':<36}{first_steady:>12,.0f}")
    print(f"{'repeats, new group (steady)':<36}{repeat_steady:>12,.0f}")
    added = results_after - results
    print(f"results: {results:,} for {distinct:,} requests; the repeats added {added}")


if __name__ == "__main__":
    main()

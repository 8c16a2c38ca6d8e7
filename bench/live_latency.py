"""Event-to-alert latency of the live worker, with every input topic busy and with two quiet.

    bash deploy/services.sh up
    python bench/live_latency.py [--seconds 20] [--rate 40]

Starts ``streamwatch worker`` on a fresh topic prefix, waits until it answers, then runs two
phases of ``--seconds`` each at a steady produced rate: (1) busy: every second, ``--rate``
usage events, ``--rate`` payment events and ``--rate`` provider notices (each notice raises one
alert at once), spread over 40 customers and so over every partition; (2) quiet: the notices
alone, so usage and payments are quiet on every partition. The latency of a notice is from just
before it is sent to when its alert is read from the alerts topic with read_committed, as a
platform team's consumer sees it: it includes the worker's wait for quiet topics and its commit
interval. Prints p50/p90/p99/max for each phase; writes bench/out/latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from common import OUT, streamwatch_env

CUSTOMERS = [f"lat-{n}" for n in range(40)]


def _ts(wall: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall * 1000) % 1000:03d}Z"
    )


def notice(customer: str, n: int, wall: float) -> dict[str, Any]:
    return {
        "event_id": f"notice-{n}",
        "type": "activity",
        "customer_id": customer,
        "ts": _ts(wall),
        "operation": "provider.notice",
        "actor": "provider",
        "status": "succeeded",
        "resource_id": "/subscriptions/sub-1",
        "properties": {
            "notice_id": f"N-{n}",
            "category": "aup.spam",
            "severity": "low",
            "action_required": "none",
        },
    }


def usage(customer: str, n: int, wall: float) -> dict[str, Any]:
    return {
        "event_id": f"usage-{n}",
        "type": "usage",
        "customer_id": customer,
        "ts": _ts(wall),
        "subscription_id": "sub-1",
        "resource_id": "/subscriptions/sub-1/vm-1",
        "meter": "storage",
        "sku": "Standard_LRS",
        "region": "westeurope",
        "quantity": 1,
        "unit": "GB",
        "cost": 0.001,
        "currency": "USD",
    }


def payment(customer: str, n: int, wall: float) -> dict[str, Any]:
    return {
        "event_id": f"payment-{n}",
        "type": "payment",
        "customer_id": customer,
        "ts": _ts(wall),
        "kind": "prepayment",
        "amount": 1.0,
        "currency": "USD",
    }


async def phase(
    kafka: str, prefix: str, seconds: float, rate: int, busy: bool, start_n: int
) -> list[float]:
    """Produce for ``seconds`` at ``rate`` notices/s (and as many usage and payment events when
    ``busy``); the latency of each notice's alert, in milliseconds."""
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        prefix + "alerts",
        bootstrap_servers=kafka,
        isolation_level="read_committed",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    await consumer.seek_to_end()
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=0, acks=1)
    await producer.start()

    async def read() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    doc = orjson.loads(record.value)
                    notice_id = doc.get("evidence", {}).get("notice_id")
                    if notice_id in sent and notice_id not in got:
                        got[notice_id] = now

    reader = asyncio.create_task(read())
    try:
        n = start_n
        interval = 1.0 / rate
        deadline = time.perf_counter() + seconds
        next_at = time.perf_counter()
        while next_at < deadline:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            customer = CUSTOMERS[n % len(CUSTOMERS)]
            wall = time.time()
            if busy:
                for make, topic in ((usage, "usage"), (payment, "payments")):
                    doc = make(customer, n, wall)
                    await producer.send(prefix + topic, orjson.dumps(doc), key=customer.encode())
            doc = notice(customer, n, wall)
            sent[f"N-{n}"] = time.perf_counter()
            await producer.send(prefix + "activity", orjson.dumps(doc), key=customer.encode())
            n += 1
            next_at += interval
        await producer.flush()
        drain_until = time.perf_counter() + 15
        while len(got) < len(sent) and time.perf_counter() < drain_until:
            await asyncio.sleep(0.1)
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    missing = len(sent) - len(got)
    if missing:
        print(f"  {missing} of {len(sent)} alerts not seen within 15 s", file=sys.stderr)
    return [(got[k] - sent[k]) * 1000 for k in got]


async def wait_ready(kafka: str, prefix: str, timeout: float = 120) -> None:
    """Send notices until the worker's first alert comes back."""
    deadline = time.monotonic() + timeout
    n = 10_000_000
    while time.monotonic() < deadline:
        latencies = await phase(kafka, prefix, 1.0, 2, busy=False, start_n=n)
        n += 10
        if latencies:
            return
    raise SystemExit("the worker did not answer; see bench/out/latency-worker.log")


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "alerts": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(pick(0.90), 1),
        "p99_ms": round(pick(0.99), 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=40, help="notices per second")
    parser.add_argument("--kafka", default=os.environ.get("STREAMWATCH_KAFKA", "127.0.0.1:9092"))
    parser.add_argument(
        "--redis", default=os.environ.get("STREAMWATCH_REDIS", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    prefix = f"lat-{uuid.uuid4().hex[:8]}-"
    env = streamwatch_env(prefix, args.kafka, args.redis, "latency-data")
    subprocess.run(
        [sys.executable, "-m", "streamwatch", "topics", "apply"],
        env=env,
        check=True,
        capture_output=True,
    )
    OUT.mkdir(parents=True, exist_ok=True)
    log = (OUT / "latency-worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "streamwatch", "worker", "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        asyncio.run(wait_ready(args.kafka, prefix))
        busy = asyncio.run(phase(args.kafka, prefix, args.seconds, args.rate, True, 0))
        quiet = asyncio.run(phase(args.kafka, prefix, args.seconds, args.rate, False, 1_000_000))
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
    result = {
        "rate_notices_per_s": args.rate,
        "seconds": args.seconds,
        "busy": summary(busy),
        "quiet": summary(quiet),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    (OUT / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'phase':<40}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, label in (
        ("busy", "all three topics busy"),
        ("quiet", "usage and payments quiet"),
    ):
        s = result[name]
        assert isinstance(s, dict)
        print(f"{label:<40}{s['p50_ms']:>9}{s['p90_ms']:>9}{s['p99_ms']:>9}{s['max_ms']:>9}")


if __name__ == "__main__":
    main()

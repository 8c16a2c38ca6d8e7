"""Alert delivery: alerts/s that ``streamwatch notify`` takes from the alerts topic to a real
Alertmanager (and how many Alertmanager then holds).

    bash deploy/services.sh up
    python bench/notify_delivery.py [--alerts 2000] [--customers 200]

Uses a fresh topic prefix and consumer group; produces N alert revisions (each customer's
alerts amended in turn, a tenth of them resolved at the end) to the alerts topic, then runs
``streamwatch notify`` (a subprocess: parse, read and write the book in Redis, POST to
Alertmanager, commit) until its committed offsets reach the end. Reports alerts/s from
start-up and after the first commit, checks that Alertmanager lists every open alert of the
run and none of the resolved, and writes bench/out/notify.json. Alertmanager's address comes
from STREAMWATCH_ALERTMANAGER (default http://127.0.0.1:9095).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid

import orjson
from aiokafka import AIOKafkaProducer

from common import OUT, run_until_consumed

KINDS = ("spend_spike", "chargeback", "payment_failure", "crypto_mining", "network_abuse")


def alerts(total: int, customers: int, prefix: str) -> tuple[list[tuple[bytes, bytes]], int, int]:
    """(messages, open alerts, resolved alerts): revision r of alert (customer, kind); the
    customers are named after the run's prefix."""
    from streamwatch.core.ids import stable_id

    out = []
    revisions: dict[tuple[int, int], int] = {}
    for n in range(total):
        key = (n % customers, (n // customers) % len(KINDS))
        revision = revisions[key] = revisions.get(key, 0) + 1
        customer = f"{prefix}{key[0]:05d}"
        kind = KINDS[key[1]]
        resolved = n >= total - total // 10 and revision > 1
        doc = {
            "alert_id": stable_id(customer, kind),
            "customer_id": customer,
            "kind": kind,
            "severity": "info" if resolved else "high",
            "score": 0.8,
            "event_time": f"2026-10-01T{revision % 24:02d}:00:00Z",
            "window_start": "2026-10-01T00:00:00Z",
            "window_end": f"2026-10-01T{revision % 24:02d}:00:00Z",
            "detected_at": "2026-10-01T00:00:01Z",
            "reasons": [f"{kind} of {customer}, revision {revision}."],
            "evidence": {"status": "resolved"} if resolved else {},
            "subscription_ids": ["sub-1"],
            "detector": {"name": kind, "version": "1"},
            "revision": revision,
            "money_at_risk": None,
        }
        out.append((customer.encode(), orjson.dumps(doc)))
    last = {}
    for key_value in out:
        doc = orjson.loads(key_value[1])
        last[doc["alert_id"]] = doc["evidence"].get("status") == "resolved"
    return out, sum(1 for r in last.values() if not r), sum(1 for r in last.values() if r)


async def produce(kafka: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=20, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def listed(alertmanager: str, prefix: str) -> int:
    """Alerts Alertmanager lists (firing) for this run's customers."""
    query = urllib.parse.urlencode({"filter": f'customer=~"{prefix}.*"'})
    with urllib.request.urlopen(f"{alertmanager}/api/v2/alerts?{query}", timeout=30) as answer:
        return len(json.load(answer))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--kafka", default=os.environ.get("STREAMWATCH_KAFKA", "127.0.0.1:9092"))
    parser.add_argument(
        "--redis", default=os.environ.get("STREAMWATCH_REDIS", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--alertmanager",
        default=(os.environ.get("STREAMWATCH_ALERTMANAGER") or "http://127.0.0.1:9095").split(",")[
            0
        ],
    )
    args = parser.parse_args()
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    env = dict(os.environ)
    env.update(
        STREAMWATCH_KAFKA=args.kafka,
        STREAMWATCH_REDIS=args.redis,
        STREAMWATCH_TOPIC_PREFIX=prefix,
        STREAMWATCH_APP_ID=f"{prefix}app",
        STREAMWATCH_ALERTMANAGER=args.alertmanager,
        STREAMWATCH_HTTP="127.0.0.1:0",
    )
    subprocess.run(
        [sys.executable, "-m", "streamwatch", "topics", "apply"],
        env=env,
        check=True,
        capture_output=True,
    )
    messages, open_alerts, resolved = alerts(args.alerts, args.customers, prefix)
    OUT.mkdir(parents=True, exist_ok=True)
    asyncio.run(produce(args.kafka, prefix + "alerts", messages))
    run = run_until_consumed(
        ["notify"], env, OUT / "notify.log", args.kafka, f"{prefix}app-notify",
        [prefix + "alerts"], args.alerts, poll_s=0.25,
    )  # fmt: skip
    first, steady = run.rates(args.alerts)
    result = {
        "alerts": args.alerts,
        "customers": args.customers,
        "alerts_per_s_from_start": round(first, 1),
        "alerts_per_s_steady": round(steady, 1),
        "open_at_the_end": open_alerts,
        "resolved_at_the_end": resolved,
        "listed_by_alertmanager": listed(args.alertmanager, prefix),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    (OUT / "notify.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The HTTP endpoints on a real socket: readiness and liveness with their reasons, and the
registry in the exposition format that prometheus_client's parser reads back."""

from __future__ import annotations

import aiohttp
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from streamwatch import metric_defs
from streamwatch.metric_defs import WorkerMetrics
from streamwatch.probes import ProbeServer


async def test_ready_health_and_metrics_answer_with_reasons():
    metrics = WorkerMetrics.create(CollectorRegistry())
    reasons: dict[str, str | None] = {"ready": "waiting for a partition assignment", "broken": None}
    server = ProbeServer(
        metrics.registry,
        lambda: reasons["ready"],
        host="127.0.0.1",
        port=0,
        broken=lambda: reasons["broken"],
        ready_gauge=metrics.ready,
    )
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/ready") as answer:
                assert answer.status == 503
                assert (await answer.json())["reason"] == "waiting for a partition assignment"
            reasons["ready"] = None
            async with session.get(f"{base}/ready") as answer:
                assert answer.status == 200
            async with session.get(f"{base}/health") as answer:
                assert answer.status == 200
            metrics.alerts.labels("spend_spike", "high").inc()
            async with session.get(f"{base}/metrics") as answer:
                assert answer.status == 200
                text = await answer.text()
            reasons["broken"] = "crashed: boom"
            async with session.get(f"{base}/health") as answer:
                assert answer.status == 503
            async with session.get(f"{base}/ready") as answer:
                assert answer.status == 503
    finally:
        await server.stop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(metric_defs.WORKER_METRICS) <= set(families)
    assert families[metric_defs.READY].samples[0].value == 1
    alerts = families[metric_defs.ALERTS].samples
    assert [(s.labels, s.value) for s in alerts if s.name.endswith("_total")] == [
        ({"kind": "spend_spike", "severity": "high"}, 1.0)
    ]

"""``/metrics``, ``/health`` and ``/ready`` of a running worker and suspension worker: scraped
over HTTP and parsed with prometheus_client's own parser; the metrics move when events flow."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from enforce_support import KEY, KEY_ID, EnforceProcess, enforce_env
from processes import REPO, port_of
from prometheus_client.parser import text_string_to_metric_families

from streamwatch import metric_defs
from streamwatch import testing as build
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def settings(settings: DeploymentSettings) -> DeploymentSettings:
    """The test's settings with the key the suspension worker trusts."""
    return dataclasses.replace(settings, signing_keys=((KEY_ID, KEY),))


def get(port: int, path: str) -> tuple[int, bytes]:
    """GET ``path`` on the process's endpoints: (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


def scrape(port: int) -> tuple[list[Any], Samples]:
    """The metric families of ``/metrics``, parsed, and every sample by (name, labels)."""
    status, body = get(port, "/metrics")
    assert status == 200
    families = list(text_string_to_metric_families(body.decode()))
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }
    return families, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_worker_serves_health_ready_and_metrics_that_move(kafka, run_worker, tmp_path):
    worker = run_worker()
    port = await port_of(worker)
    assert get(port, "/health")[0] == 200
    ready = await until(lambda: get(port, "/ready")[0] == 200)
    assert ready, get(port, "/ready")
    families, _ = scrape(port)
    assert {f.name for f in families} >= set(metric_defs.WORKER_METRICS)

    notice = build.provider_notice(
        "aup.crypto_mining", customer_id="cust-metrics", ts="2026-10-01T02:30:00Z"
    )
    await kafka.produce([notice, ("usage", b"cust-metrics", b"[1, 2, 3]")])
    await kafka.read_topic("alerts", until_count=1, timeout=60)

    def moved() -> Samples | None:
        _, samples = scrape(port)
        done = value(samples, "streamwatch_events_in_total", topic="usage") >= 1
        return samples if done and value(samples, "streamwatch_state_bytes") > 0 else None

    samples = await until(moved)
    assert samples, scrape(port)[1]
    assert value(samples, "streamwatch_events_in_total", topic="activity") == 1
    assert value(samples, "streamwatch_dead_letters_total", code="not_an_object") == 1
    alert = orjson.loads((await kafka.read_topic("alerts", until_count=1))[0].value)
    assert (
        value(
            samples, "streamwatch_alerts_total", kind="provider_notice", severity=alert["severity"]
        )
        == 1
    )
    assert value(samples, "streamwatch_requests_total", action="suspend", outcome="sent") == 1
    assert value(samples, "streamwatch_event_to_alert_seconds_count") == 1
    assert value(samples, "streamwatch_commit_seconds_count") >= 1
    assert value(samples, "streamwatch_customers_in_state") == 1
    assert value(samples, "streamwatch_ready") == 1
    lag = await until(
        lambda: [k for k in scrape(port)[1] if k[0] == "streamwatch_consumer_lag"], timeout=15
    )
    assert {dict(labels)["topic"] for _, labels in lag} == {"usage", "activity", "payments"}


async def test_suspension_worker_serves_health_ready_and_metrics_that_move(
    kafka, run_worker, settings, tmp_path
):
    policy = REPO / "src/streamwatch/config/policy.toml"
    enforcer = EnforceProcess(enforce_env(settings, policy), tmp_path / "enforce.log", []).start()
    try:
        port = await port_of(enforcer)
        assert get(port, "/health")[0] == 200
        assert await until(lambda: get(port, "/ready")[0] == 200), get(port, "/ready")
        families, _ = scrape(port)
        assert {f.name for f in families} >= set(metric_defs.ENFORCE_METRICS)

        run_worker()
        notice = build.provider_notice(
            "aup.crypto_mining", customer_id="cust-enforce-metrics", ts="2026-10-01T02:30:00Z"
        )
        await kafka.produce([notice])
        await kafka.read_topic("enforcement-results", until_count=2, timeout=90)

        def moved() -> Samples | None:
            _, samples = scrape(port)
            return samples if value(samples, "streamwatch_pending_approvals") == 1 else None

        samples = await until(moved, timeout=40)
        assert samples, scrape(port)[1]
        requests = "streamwatch_enforce_requests_total"
        assert value(samples, requests, action="notify", outcome="done") == 1
        assert value(samples, requests, action="suspend", outcome="awaiting_approval") == 1
        assert value(samples, "streamwatch_commit_seconds_count") >= 1
        assert value(samples, "streamwatch_oldest_pending_approval_age_seconds") >= 0
    finally:
        enforcer.stop()

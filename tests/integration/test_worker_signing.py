"""The worker signs every enforcement request it sends under the configured key."""

from __future__ import annotations

import dataclasses

import pytest

from streamwatch import testing as build
from streamwatch.core.signing import verify
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration

KEYS = (("k2", b"current-secret"), ("k1", b"previous-secret"))


@pytest.fixture
def settings(settings: DeploymentSettings) -> DeploymentSettings:
    """The test's settings with two signing keys: k2 signs, both verify."""
    return dataclasses.replace(settings, signing_keys=KEYS)


async def test_requests_on_the_enforcement_topic_verify_under_the_configured_key(
    kafka, run_worker, expected
):
    notice = build.provider_notice(
        "aup.crypto_mining", customer_id="cust-signed", ts="2026-10-01T02:30:00Z"
    )
    worker = run_worker()
    await kafka.produce([notice])
    want = expected([notice]).requests
    assert len(want) == 2
    records = await kafka.read_topic("enforcement", until_count=len(want), timeout=60)
    requests = [r.json() for r in records]
    assert sorted(r["request_id"] for r in requests) == sorted(r.request_id for r in want)
    for request in requests:
        assert request["signature"].startswith("v1:k2:")
        assert verify(request, dict(KEYS)) is None
        assert verify(request, {"k2": b"someone-else"}) is not None
        assert verify({**request, "action": "resume"}, dict(KEYS)) is not None
    assert "unsigned" not in worker.log_text()

"""The whole enforcement path on the real Kafka and Redis: a provider notice reaches the live
worker, which asks (signed) for a suspension needing approval; the suspension worker verifies
it and holds it; ``streamwatch approve`` releases it and the action is applied once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from enforce_support import KEY, KEY_ID, EnforceProcess, enforce_env, run_cli

from streamwatch import testing as build
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(settings: DeploymentSettings) -> DeploymentSettings:
    """The test's settings with the key the suspension worker trusts."""
    return dataclasses.replace(settings, signing_keys=((KEY_ID, KEY),))


async def test_a_notice_becomes_a_held_suspension_that_approval_applies_once(
    kafka, run_worker, expected, settings, tmp_path
):
    policy = Path(__file__).resolve().parents[2] / "src/streamwatch/config/policy.toml"
    env = enforce_env(settings, policy)
    notice = build.provider_notice(
        "aup.crypto_mining", customer_id="cust-e2e", ts="2026-10-01T02:30:00Z"
    )
    want = {r.action: r for r in expected([notice]).requests}
    assert want["suspend"].requires_approval

    run_worker()
    enforcer = EnforceProcess(env, tmp_path / "enforce.log", []).start()
    try:
        await kafka.produce([notice])
        held = await kafka.read_topic("enforcement-results", until_count=2, timeout=90)
        outcomes = {r.json()["action"]: r.json() for r in held}
        assert outcomes["notify"]["outcome"] == "done"
        assert outcomes["suspend"]["outcome"] == "awaiting_approval"
        assert outcomes["suspend"]["request_id"] == want["suspend"].request_id
        assert [r["action"] for r in enforcer.applied()] == ["notify"]

        approved = run_cli(
            env, "approve", want["suspend"].request_id, "--by", "alice", "--wait", "60"
        )
        assert approved.returncode == 0, approved.stderr
        results = await kafka.read_topic("enforcement-results", until_count=3, timeout=60)
        final = [r.json() for r in results if r.json()["action"] == "suspend"]
        assert [r["outcome"] for r in final] == ["awaiting_approval", "done"]
        assert final[-1]["approved_by"] == "alice"
        assert sorted(r["action"] for r in enforcer.applied()) == ["notify", "suspend"]
    finally:
        enforcer.stop()

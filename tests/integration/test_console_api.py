"""``streamwatch console`` on its own, its JSON API, and the feedback commands, on the real broker
and Redis with a running worker: ``suppress --kafka`` holds an alert back, ``feedback
--not-anomaly`` on an alert found on the alerts topic suppresses its pattern, and the API
refuses what it cannot do."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import orjson
import pytest
from processes import ServiceProcess, wait_for

from conftest import worker_env
from streamwatch import testing as build
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts

pytestmark = pytest.mark.integration

C = "cust-api"
START_MS = (int(time.time() * 1000) // MS_PER_HOUR - 6) * MS_PER_HOUR
"""Six hours ago: feedback the console writes is stamped with the wall clock, and an event
far ahead of the customer's others would wait as a possible clock error."""


def t(hours: int) -> str:
    return format_ts(START_MS + hours * MS_PER_HOUR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/console/api{path}",
        data=data,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


async def listening(port: int, process: ServiceProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.running, process.log_text()[-3000:]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.3)
    raise AssertionError(f"the console did not listen on {port}")


async def test_the_standalone_console_and_the_feedback_commands(
    kafka, run_worker, settings, cli, tmp_path
):
    run_worker()
    port = free_port()
    console = ServiceProcess(
        "console", worker_env(settings), tmp_path / "console.log", ["--http", f"127.0.0.1:{port}"]
    ).start()
    try:
        await listening(port, console)
        suppressed = cli(
            "suppress", C, "--kind", "provider_notice", "--match", "category=aup.spam",
            "--until", t(24 * 30), "--reason", "our campaign", "--owner", "ops",
            "--at", t(0), "--kafka",
        )  # fmt: skip
        assert suppressed.returncode == 0, suppressed.stderr
        first = build.provider_notice(
            "aup.ddos", customer_id=C, ts=t(1), notice_id="N-1",
            action_required="none",
        )  # fmt: skip
        spam = build.provider_notice(
            "aup.spam", customer_id=C, ts=t(2), notice_id="N-2",
            action_required="none",
        )  # fmt: skip
        await kafka.produce([first, spam])
        await wait_for(lambda: call(port, f"/customers/{C}")[0] == 200, "the customer in the view")
        view = await wait_for(
            lambda: (
                len(call(port, f"/customers/{C}")[1]["alerts"]) == 2
                and call(port, f"/customers/{C}")[1]
            ),
            "both alerts decided",
        )
        held = [a for a in view["alerts"] if a["suppressed"]]
        assert [a["summary"].count("aup.spam") for a in held] == [1]
        [row] = call(port, f"/suppressions?customer={C}")[1]
        assert (row["owner"], row["reason"], row["match"]) == (
            "ops", "our campaign", {"category": "aup.spam"}
        )  # fmt: skip
        alerts = await wait_for(
            lambda: call(port, f"/alerts?customer={C}&kind=provider_notice")[1],
            "the sent alert read from the alerts topic",
        )
        assert [a["evidence"]["category"] for a in alerts] == ["aup.ddos"], "only one sent"

        # "Not an anomaly" on the ddos alert, found on the alerts topic by the CLI.
        marked = cli(
            "feedback", alerts[0]["alert_id"], "--not-anomaly", "--reason", "load test",
            "--owner", "ops", "--at", t(3), "--kafka",
        )  # fmt: skip
        assert marked.returncode == 0, marked.stderr
        again = build.provider_notice(
            "aup.ddos", customer_id=C, ts=t(4), notice_id="N-3",
            action_required="none",
        )  # fmt: skip
        await kafka.produce([again])
        view = await wait_for(
            lambda: (
                len(call(port, f"/customers/{C}")[1]["alerts"]) == 3
                and call(port, f"/customers/{C}")[1]
            ),
            "the third alert decided",
        )
        assert sum(1 for a in view["alerts"] if a["suppressed"]) == 2
        sent = await kafka.read_topic("alerts", until_count=1, settle=3.0)
        assert len(sent) == 1, "neither the suppressed nor the no-anomaly pattern went out"

        # "Not an anomaly" through the API, on an alert the console read from the topic.
        mining = build.provider_notice(
            "aup.crypto_mining", customer_id=C, ts=t(5), notice_id="N-4",
            action_required="none",
        )  # fmt: skip
        await kafka.produce([mining])
        [alert] = await wait_for(
            lambda: (
                call(port, f"/alerts?customer={C}&kind=provider_notice")[1][:1]
                if len(call(port, f"/alerts?customer={C}")[1]) == 2
                else None
            ),
            "the mining alert read from the topic",
        )
        status, said = call(
            port, f"/alerts/{alert['alert_id']}/not-anomaly", {"owner": "ops", "reason": "ours"}
        )
        assert status == 200, said
        assert said["event"]["properties"]["evidence"] == alert["evidence"]
        made = await wait_for(
            lambda: [
                row
                for row in call(port, f"/suppressions?customer={C}")[1]
                if row["alert_id"] == alert["alert_id"]
            ],
            "its pattern suppressed",
        )
        assert made[0]["match"]["category"] == "aup.crypto_mining"

        # What the API refuses.
        assert call(port, "/customers/nobody")[0] == 404
        assert call(port, "/approvals/" + "0" * 32, {"decision": "approve"})[0] == 400
        status, body = call(
            port, "/approvals/" + "0" * 32, {"decision": "approve", "by": "x", "key": "k"}
        )
        assert status == 404, body
        assert (
            call(
                port,
                "/suppressions",
                {"customer_id": C, "owner": "o", "reason": "r", "until": "soon"},
            )[0]
            == 400
        )
        assert call(port, "/alerts/unknown/not-anomaly", {"owner": "o", "reason": "r"})[0] == 404
    finally:
        console.stop()

"""The README's walkthrough, run as a newcomer runs it: every block marked ``[walkthrough N]``,
in order, in an empty folder, against the real broker and Redis.

The blocks become one bash script (``set -e``: the first command that fails stops it, and the
log names it), run in a temporary folder that holds only ``.venv`` and ``deploy`` (links to this
checkout's), so every command works from what the README's earlier commands left there. The
script differs from the README in two ways only, each because the test, not the reader, owns
the machine:

- ``bash deploy/services.sh up|down`` lines are left out: the services are the test's
  (STREAMWATCH_KAFKA, STREAMWATCH_REDIS), under a topic and key prefix of this test alone;
- a command whose comment says "Ctrl-C to stop" (the worker, the suspension worker) runs in
  the background with its own metrics port, and the script waits until it answers ``/ready``;
  the test stops it at the end with SIGTERM (a script's background commands ignore Ctrl-C's
  SIGINT), as Kubernetes stops a pod.

Then it checks what the walkthrough promises: the live worker's enforcement requests are signed
and accepted by ``streamwatch enforce`` (each has a result, none ``refused``: the suspend waits
for approval, the notify is done), and both evidence packs were written.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from processes import REPO

from conftest import KafkaHelper
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration

MARK = re.compile(r"^# \[walkthrough (\d+)\]")
BACKGROUND = "Ctrl-C to stop"
SERVICES = re.compile(r"^bash deploy/services\.sh (up|down)\b")
SCRIPT_TIMEOUT_S = 240

PREAMBLE = r"""set -eEuo pipefail
trap 'echo "walkthrough: FAILED (exit $?): $BASH_COMMAND" >&2' ERR
PS4='+ '
set -x
walk_wait_ready() {  # PORT PID LOG: wait until the process answers /ready, fail if it exits
  set +x
  local i
  for i in $(seq 1 240); do
    if .venv/bin/python -c "import urllib.request as u, sys; u.urlopen(sys.argv[1], timeout=2)" \
        "http://127.0.0.1:$1/ready" 2>/dev/null; then
      set -x; return 0
    fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "walkthrough: $3 exited" >&2; tail -40 "$3" >&2; return 1
    fi
    sleep 0.5
  done
  echo "walkthrough: $3 not ready after 120 s" >&2; tail -40 "$3" >&2; return 1
}
"""


@dataclass(frozen=True)
class Block:
    number: int
    lines: list[str]


def walkthrough_blocks(readme: str) -> list[Block]:
    """The ``sh`` blocks whose first line is ``# [walkthrough N]``, in README order."""
    blocks = []
    for body in re.findall(r"^```sh\n(.*?)^```$", readme, flags=re.MULTILINE | re.DOTALL):
        lines = body.splitlines()
        mark = MARK.match(lines[0]) if lines else None
        if mark:
            blocks.append(Block(int(mark.group(1)), lines[1:]))
    return blocks


def script_of(blocks: list[Block], ports: list[int]) -> str:
    """The bash script that runs ``blocks`` (see the module docstring for what differs)."""
    out = [PREAMBLE]
    for block in blocks:
        out.append(f": walkthrough {block.number}")
        for line in block.lines:
            if SERVICES.match(line):
                out.append(": services: those of the test, not deploy/services.sh")
            elif BACKGROUND in line:
                port = ports.pop()
                command = line.split(" #", 1)[0].strip()
                log = f"background-{port}.log"
                out.append(f"STREAMWATCH_HTTP=127.0.0.1:{port} {command} >{log} 2>&1 &")
                out.append("echo $! >>background.pids")
                out.append(f"walk_wait_ready {port} $! {log}")
            else:
                out.append(line)
    out.append(": walkthrough done")
    return "\n".join(out) + "\n"


def test_readme_marks_its_walkthrough_in_order():
    blocks = walkthrough_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert [b.number for b in blocks] == list(range(1, len(blocks) + 1))
    text = "\n".join(line for b in blocks for line in b.lines)
    for step in ("topics apply", "worker", "produce", "enforce", "generate", "replay", "evidence"):
        assert step in text


def test_readme_walkthrough_runs_and_enforce_accepts_the_live_requests(
    settings: DeploymentSettings, tmp_path: Path
):
    blocks = walkthrough_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    work = tmp_path / "newcomer"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))
    (work / "deploy").symlink_to(REPO / "deploy")
    script = work / "walkthrough.sh"
    script.write_text(script_of(blocks, free_ports(4)), encoding="utf-8")
    env = walkthrough_env(settings)
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["bash", str(script)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=False,
        )
        log = f"{done.stdout}\n{done.stderr}"
        assert done.returncode == 0, f"the walkthrough failed:\n{log[-6000:]}"
        assert "walkthrough done" in done.stderr
        requests, results = asyncio.run(live_requests_and_results(settings))
    finally:
        stop_background(work)
    print(f"walkthrough ran in {time.monotonic() - started:.0f} s")

    assert {r["action"] for r in requests} >= {"suspend", "notify"}
    assert all(r.get("signature") for r in requests)
    by_request = {r["request_id"]: r for r in results}
    assert set(by_request) == {r["request_id"] for r in requests}
    outcomes = {by_request[r["request_id"]]["outcome"] for r in requests}
    assert "refused" not in outcomes
    assert {(r["action"], by_request[r["request_id"]]["outcome"]) for r in requests} >= {
        ("suspend", "awaiting_approval"),
        ("notify", "done"),
    }
    for pack in ("pack", "pack-live"):
        assert (work / pack / "evidence.json").stat().st_size > 0
        assert (work / pack / "evidence.md").stat().st_size > 0


def walkthrough_env(settings: DeploymentSettings) -> dict[str, str]:
    """The reader's environment, pointed at the test's services and prefix; nothing of the
    walkthrough's own settings (keys, ports, folders) is set for it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STREAMWATCH_") and k not in {"VIRTUAL_ENV", "PYTHONPATH"}
    }
    env.update(
        STREAMWATCH_KAFKA=settings.kafka,
        STREAMWATCH_REDIS=settings.redis,
        STREAMWATCH_TOPIC_PREFIX=settings.topic_prefix,
        STREAMWATCH_APP_ID=settings.app_id,
        SERVICES_DIR=os.environ.get("SERVICES_DIR") or str(REPO / ".services"),
        PYTHONUNBUFFERED="1",
    )
    return env


async def live_requests_and_results(
    settings: DeploymentSettings,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The requests on the enforcement topic, and a result for each (waiting up to 60 s for
    the suspension worker)."""
    kafka = KafkaHelper(settings)
    try:
        requests = [r.json() for r in await kafka.read_to_end("enforcement")]
        results = [
            r.json()
            for r in await kafka.read_topic("enforcement-results", len(requests), timeout=60)
        ]
    finally:
        await kafka.close()
    return requests, results


def free_ports(count: int) -> list[int]:
    ports = []
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    return ports


def stop_background(work: Path) -> None:
    """Stop each background command (SIGTERM); kill what is left after 30 s."""
    pids_file = work / "background.pids"
    if not pids_file.exists():
        return
    pids = [int(p) for p in pids_file.read_text().split()]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (the script's children are not the test's: no waitpid)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"

"""streamwatch commands as subprocesses of a test: started, killed, stopped, restarted, their
JSON log read back (the live worker and the suspension worker alike)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import orjson

from streamwatch.settings import DeploymentSettings, KafkaSecurity

REPO = Path(__file__).resolve().parents[2]

SECURITY_VARIABLES = (
    "STREAMWATCH_KAFKA_SECURITY_PROTOCOL",
    "STREAMWATCH_KAFKA_SASL_MECHANISM",
    "STREAMWATCH_KAFKA_USERNAME",
    "STREAMWATCH_KAFKA_PASSWORD",
    "STREAMWATCH_KAFKA_PASSWORD_FILE",
    "STREAMWATCH_KAFKA_CA_FILE",
    "STREAMWATCH_KAFKA_CERT_FILE",
    "STREAMWATCH_KAFKA_KEY_FILE",
    "STREAMWATCH_KAFKA_KEY_PASSWORD",
)


def security_env(env: dict[str, str], security: KafkaSecurity) -> None:
    """Set the STREAMWATCH_KAFKA_* security variables of ``env`` to ``security`` (and drop
    any inherited ones it does not set)."""
    for name in SECURITY_VARIABLES:
        env.pop(name, None)
    values = {
        "STREAMWATCH_KAFKA_SECURITY_PROTOCOL": security.protocol,
        "STREAMWATCH_KAFKA_SASL_MECHANISM": security.sasl_mechanism,
        "STREAMWATCH_KAFKA_USERNAME": security.username,
        "STREAMWATCH_KAFKA_PASSWORD": security.password,
        "STREAMWATCH_KAFKA_CA_FILE": security.ca_file,
        "STREAMWATCH_KAFKA_CERT_FILE": security.cert_file,
        "STREAMWATCH_KAFKA_KEY_FILE": security.key_file,
        "STREAMWATCH_KAFKA_KEY_PASSWORD": security.key_password,
    }
    env.update({name: str(value) for name, value in values.items() if value is not None})


def worker_env(settings: DeploymentSettings) -> dict[str, str]:
    """The environment that makes ``streamwatch worker`` use ``settings``."""
    env = dict(os.environ)
    env.update(
        STREAMWATCH_KAFKA=settings.kafka,
        STREAMWATCH_REDIS=settings.redis,
        STREAMWATCH_TOPIC_PREFIX=settings.topic_prefix,
        STREAMWATCH_APP_ID=settings.app_id,
        STREAMWATCH_DATA_DIR=str(settings.data_dir),
        STREAMWATCH_TOPICS_DIR=str(settings.topics_dir),
        # Any free port: tests run several workers side by side (the log names the port).
        STREAMWATCH_HTTP=settings.http or "127.0.0.1:0",
        PYTHONUNBUFFERED="1",
    )
    security_env(env, settings.kafka_security)
    if settings.policy_path is not None:
        env["STREAMWATCH_POLICY"] = str(settings.policy_path)
    if settings.instance_id is not None:
        env["STREAMWATCH_INSTANCE_ID"] = settings.instance_id
    else:
        env.pop("STREAMWATCH_INSTANCE_ID", None)  # a dynamic group member
    if settings.signing_keys:
        env["STREAMWATCH_SIGNING_KEYS"] = ",".join(
            f"{key_id}:{secret.decode()}" for key_id, secret in settings.signing_keys
        )
    return env


class ServiceProcess:
    """``python -m streamwatch <command> <args>`` in a subprocess, logging to a file."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path, args: list[str]) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Self:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"----- start #{self.starts} -----\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamwatch", self.command, *self.args],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def restart(self) -> Self:
        self.kill()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> Iterator[dict[str, Any]]:
        """The process's JSON log lines (other lines skipped)."""
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue


async def wait_for(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    """Poll ``check`` until it returns something truthy (returned); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"not within {timeout}s: {what}")

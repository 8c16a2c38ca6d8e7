"""Reading a running streamwatch process's HTTP endpoints in integration tests: the port it
logged, GET, /metrics parsed with prometheus_client's own parser, and polling."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from processes import ServiceProcess
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def get(port: int, path: str) -> tuple[int, bytes]:
    """GET ``path`` on the process's endpoints: (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def port_of(process: ServiceProcess, timeout: float = 60.0) -> int:
    """The port the process logged it serves its endpoints on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in process.log_records():
            if record.get("event") == "http endpoints listening":
                return int(record["port"])
        assert process.running, process.log_text()[-3000:]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no endpoints logged within {timeout}s")


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

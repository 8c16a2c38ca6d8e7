"""What the console knows from the output topics: recent alerts, requests and their results.

The Redis view holds each customer's open alerts in brief; the console also needs whole alerts
(reasons, evidence, revisions) for its alert list and for "not an anomaly", and the actions
taken for a customer's timeline. ``Recent`` keeps the latest revision of the newest
``MAX_ALERTS`` alerts, the newest ``MAX_REQUESTS`` enforcement requests and their results, all
in memory and bounded; ``TopicFeed`` fills it by reading the ``alerts``, ``enforcement`` and
``enforcement-results`` topics from the start of what they retain (read_committed), and then
follows them. A console that restarts reads them again. Records that are not JSON objects with
the fields the console needs are counted in ``Recent.skipped`` and left out (they were
validated by the worker that wrote them, so this means another writer broke the contract).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streamwatch.kafka_clients import client_options
from streamwatch.replay.kafka import read_range
from streamwatch.settings import DeploymentSettings

MAX_ALERTS: Final = 5000
MAX_REQUESTS: Final = 5000
RESULTS_PER_REQUEST: Final = 8

log = structlog.get_logger("streamwatch.web.feed")


@dataclass
class Recent:
    """The newest alerts (latest revision each), requests and results; see the module doc."""

    alerts: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    requests: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: int = 0

    def add(self, topic: str, value: bytes) -> None:
        """Take one record of ``topic`` ("alerts", "enforcement" or "enforcement-results")."""
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            self.skipped += 1
            return
        if not isinstance(doc, dict):
            self.skipped += 1
        elif topic == "alerts":
            self._alert(doc)
        elif topic == "enforcement":
            self._request(doc)
        else:
            self._result(doc)

    def _alert(self, doc: dict[str, Any]) -> None:
        alert_id = doc.get("alert_id")
        if not isinstance(alert_id, str) or not isinstance(doc.get("customer_id"), str):
            self.skipped += 1
            return
        known = self.alerts.get(alert_id)
        if known is not None and known.get("revision", 1) > doc.get("revision", 1):
            return  # an older revision read after a newer one
        self.alerts[alert_id] = doc
        self.alerts.move_to_end(alert_id)
        while len(self.alerts) > MAX_ALERTS:
            self.alerts.popitem(last=False)

    def _request(self, doc: dict[str, Any]) -> None:
        request_id = doc.get("request_id")
        if not isinstance(request_id, str) or not isinstance(doc.get("customer_id"), str):
            self.skipped += 1
            return
        self.requests[request_id] = doc
        self.requests.move_to_end(request_id)
        while len(self.requests) > MAX_REQUESTS:
            gone, _ = self.requests.popitem(last=False)
            self.results.pop(gone, None)

    def _result(self, doc: dict[str, Any]) -> None:
        request_id = doc.get("request_id")
        if not isinstance(request_id, str) or not isinstance(doc.get("result_id"), str):
            self.skipped += 1
            return
        results = self.results.setdefault(request_id, [])
        if any(r.get("result_id") == doc["result_id"] for r in results):
            return  # a repeat after a crash carries the same result id
        results.append(doc)
        del results[:-RESULTS_PER_REQUEST]

    def alert_list(
        self,
        *,
        customer_id: str | None = None,
        kind: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Alerts newest first, filtered; ``status`` is the evidence's (open, resolved,
        absorbed), open when it has none."""
        out = []
        for alert in reversed(self.alerts.values()):
            if customer_id and alert.get("customer_id") != customer_id:
                continue
            if kind and alert.get("kind") != kind:
                continue
            if severity and alert.get("severity") != severity:
                continue
            if status and status_of(alert) != status:
                continue
            out.append(alert)
            if len(out) >= limit:
                break
        return out

    def timeline(self, customer_id: str) -> list[dict[str, Any]]:
        """A customer's alerts, requests and results in time order (oldest first), each as
        ``{"at", "what", "title", "detail", "id"}``."""
        rows: list[dict[str, Any]] = []
        for alert in self.alerts.values():
            if alert.get("customer_id") == customer_id:
                reasons = alert.get("reasons") or [""]
                rows.append(
                    {
                        "at": str(alert.get("event_time", "")),
                        "what": "alert",
                        "title": f"{alert.get('kind')} ({alert.get('severity')}, "
                        f"revision {alert.get('revision', 1)}, {status_of(alert)})",
                        "detail": str(reasons[0]),
                        "id": alert["alert_id"],
                    }
                )
        for request_id, request in self.requests.items():
            if request.get("customer_id") != customer_id:
                continue
            rows.append(
                {
                    "at": str(request.get("requested_at", "")),
                    "what": "request",
                    "title": f"{request.get('action')} requested by rule {request.get('policy')}"
                    + (" (approval required)" if request.get("requires_approval") else ""),
                    "detail": str(request.get("reason", "")),
                    "id": request_id,
                }
            )
            for result in self.results.get(request_id, ()):
                by = result.get("approved_by")
                rows.append(
                    {
                        "at": str(result.get("at", "")),
                        "what": "result",
                        "title": f"{result.get('action')}: {result.get('outcome')}"
                        + (f" (approved by {by})" if by else ""),
                        "detail": str(result.get("reason", "")),
                        "id": request_id,
                    }
                )
        rows.sort(key=lambda r: (r["at"], r["what"]))
        return rows


def status_of(alert: dict[str, Any]) -> str:
    """The alert's status as the console filters it: its evidence ``status``, else open."""
    evidence = alert.get("evidence")
    status = evidence.get("status") if isinstance(evidence, dict) else None
    return status if isinstance(status, str) else "open"


class TopicFeed:
    """Reads the output topics into a ``Recent`` in the background (``start``/``stop``)."""

    def __init__(self, settings: DeploymentSettings, recent: Recent | None = None) -> None:
        self.settings = settings
        self.recent = recent or Recent()
        topics = settings.topics
        self._names = {
            topics.alerts: "alerts",
            topics.enforcement: "enforcement",
            topics.enforcement_results: "enforcement-results",
        }
        self._task: asyncio.Task[None] | None = None
        self.error: str | None = None
        """Why the feed is not reading, for the console to show; None while it reads."""

    async def start(self) -> None:
        """Start reading (returns at once; failures are retried and shown in ``error``)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="console-topic-feed")

    async def stop(self) -> None:
        """Stop reading (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                *self._names,
                **client_options(self.settings),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
            )
            try:
                await consumer.start()
                self.error = None
                while True:
                    batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                    self.take(
                        (tp.topic, record.value)
                        for tp, records in batches.items()
                        for record in records
                    )
            except (KafkaError, OSError) as exc:
                self.error = f"cannot read the output topics at {self.settings.kafka}: {exc}"
                log.warning("console feed failing; retrying", error=str(exc))
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(2.0)

    def take(self, records: Iterable[tuple[str, bytes | None]]) -> None:
        """Add records read from the topics (topic name as on the broker, value)."""
        for topic, value in records:
            if value is not None:
                self.recent.add(self._names.get(topic, "alerts"), value)


async def find_alert(settings: DeploymentSettings, alert_id: str) -> dict[str, Any] | None:
    """The last revision of ``alert_id`` on the alerts topic (read once, from the start of
    what it retains to its end), or None. Raises KafkaError, OSError, or LookupError when
    the topic does not exist."""
    sources = await read_range(client_options(settings), [settings.topics.alerts], 0, 1 << 62)
    recent = Recent()
    wanted = alert_id.encode()
    for source in sources:
        for value, _ in source.lines:
            if wanted in value:
                recent.add("alerts", value)
    return recent.alerts.get(alert_id)

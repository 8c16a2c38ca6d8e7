"""The live bridge from a raw topic to the input topics: ``streamwatch ingest``.

A Faust agent reads one raw topic (an Event Hub that diagnostic settings stream to, through its
Kafka endpoint; any topic of one of the adapters' formats), maps every record of every message
with the format's adapter, and produces contract events to the ``usage``, ``activity`` and
``payments`` topics (key = customer id). A record the adapter refuses, or a message that is not
JSON, goes to the ``dead-letter`` topic with code ``unmappable`` and the adapter's reason
(``unmappable: interim_status: ...``), with the original message.

Delivery is at least once: a crash between producing and committing re-reads the message, and
its records map to the same event ids, which the worker processes once. ``IngestMapper`` is the
whole decision, without Faust, so that it can be tested and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

import faust
import orjson
from mode import CrashingSupervisor

from streamwatch.adapters.base import Context, Refused
from streamwatch.adapters.read import json_documents
from streamwatch.adapters.run import Run, records_of
from streamwatch.core.codec import DecodeError
from streamwatch.core.deadletter import dead_letter_record
from streamwatch.kafka_clients import faust_credentials
from streamwatch.live.processor import wall_clock_ms
from streamwatch.settings import DeploymentSettings, TopicNames

UNMAPPABLE: Final = "unmappable"
"""The dead-letter code of a raw record its adapter could not map."""


@dataclass(slots=True)
class IngestMapper:
    """One raw message in, the messages to produce out (topic, key, value). Deterministic for
    a given ``received_at_ms``; keeps the run's ``Summary`` (counts by type and reason)."""

    adapter: ModuleType
    ctx: Context
    topics: TopicNames
    run: Run = field(init=False)

    def __post_init__(self) -> None:
        self.run = Run(self.adapter.map_record, self.ctx)

    def map_message(
        self, raw: bytes, source: dict[str, Any], received_at_ms: int
    ) -> list[tuple[str, bytes, bytes]]:
        """What to produce for one raw message: its events, and a dead letter per refusal."""
        out: list[tuple[str, bytes, bytes]] = []
        key = source.get("key") or b""
        shown = {k: v for k, v in source.items() if k != "key"}
        if isinstance(key, bytes) and key:
            shown["key"] = key.decode("utf-8", errors="replace")
        shown["format"] = self.adapter.NAME
        for document in json_documents(raw):
            for record, events in self._records(document):
                if events:
                    for event in events:
                        out.append(
                            (
                                self._topic(event["type"]),
                                event["customer_id"].encode(),
                                orjson.dumps(event),
                            )
                        )
                    continue
                refusal = record
                error = DecodeError(UNMAPPABLE, refusal.reason)
                dead = dead_letter_record(raw, error, shown, received_at_ms)
                out.append((self.topics.dead_letter, key, orjson.dumps(dead)))
        return out

    def _records(self, document: Any) -> list[tuple[Any, list[dict[str, Any]]]]:
        """(record, its events) or (its refusal, []) for every record of ``document``."""
        found: list[tuple[Any, list[dict[str, Any]]]] = []
        for record in records_of(document) if not isinstance(document, Refused) else [document]:
            self.run.summary.last = None
            events = self.run.record(record)
            last = self.run.summary.last
            found.append((last if not events else record, events))
        return found

    def _topic(self, kind: str) -> str:
        return {
            "usage": self.topics.usage,
            "activity": self.topics.activity,
            "payment": self.topics.payments,
        }[kind]


def create_ingest_app(
    settings: DeploymentSettings,
    adapter: ModuleType,
    ctx: Context,
    raw_topic: str,
    *,
    clock: Callable[[], int] = wall_clock_ms,
) -> faust.App:
    """The bridge's Faust app (consumer group ``<app id>-ingest-<format>``). Pure
    construction: connects to nothing until started with ``faust.Worker``."""
    app = faust.App(
        f"{settings.app_id}-ingest-{adapter.NAME}",
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        broker_credentials=faust_credentials(settings.kafka_security),
        store="memory://",
        # Faust keeps its files in the datadir (the cwd without one); its parent, the data
        # directory, must exist (``DeploymentSettings.prepare_data_dir``).
        datadir=str(settings.data_dir / f"{settings.app_id}-ingest-{adapter.NAME}"),
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
    )
    mapper = IngestMapper(adapter, ctx, settings.topics)
    source = app.topic(
        raw_topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    outputs: dict[str, faust.TopicT] = {}

    def output(name: str) -> faust.TopicT:
        if name not in outputs:
            outputs[name] = app.topic(
                name,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
            )
        return outputs[name]

    async def ingest(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            source_info = {
                "topic": message.tp.topic,
                "partition": message.tp.partition,
                "offset": message.offset,
                "key": message.key,
            }
            produced = mapper.map_message(message.value or b"", source_info, clock())
            for topic, key, value in produced:
                await output(topic).send(key=key, value=value)

    app.agent(source, name="streamwatch.ingest", supervisor_strategy=CrashingSupervisor)(ingest)
    return app

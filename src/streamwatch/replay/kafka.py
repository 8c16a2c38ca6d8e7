"""Read the input topics between two times, for replay.

Records are selected by their Kafka timestamp (``offsets_for_times``), from ``start_ms``
(inclusive) to ``end_ms`` (exclusive), partition by partition; with ``customer`` only records
whose key is that customer id are kept. Each partition becomes one replay ``Source``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streamwatch.replay.runner import Source

FETCH_MAX_BYTES = 16 * 1024 * 1024


async def read_range(
    kafka: Mapping[str, Any],
    topics: Sequence[str],
    start_ms: int,
    end_ms: int,
    customer: str | None = None,
) -> list[Source]:
    """Every record of ``topics`` in [start_ms, end_ms), one Source per partition; ``kafka``
    holds the client options (``streamwatch.kafka_clients.client_options``)."""
    consumer = AIOKafkaConsumer(
        **kafka,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=FETCH_MAX_BYTES,
        fetch_max_bytes=FETCH_MAX_BYTES,
    )
    await consumer.start()
    try:
        partitions: list[TopicPartition] = []
        for topic in topics:
            ids = await _partitions(consumer, topic)
            partitions.extend(TopicPartition(topic, p) for p in sorted(ids))
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        firsts = await consumer.offsets_for_times(dict.fromkeys(partitions, start_ms))
        lasts = await consumer.offsets_for_times(dict.fromkeys(partitions, end_ms))
        wanted = customer.encode() if customer is not None else None
        sources = []
        for tp in partitions:
            first, last = firsts.get(tp), lasts.get(tp)
            begin = first.offset if first is not None else ends[tp]
            stop = last.offset if last is not None else ends[tp]
            records = await _read(consumer, tp, begin, stop, wanted)
            sources.append(Source(records, _origin(tp)))
        return sources
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    ids = consumer.partitions_for_topic(topic)
    if not ids:
        await consumer._client.force_metadata_update()  # aiokafka has no public refresh
        ids = consumer.partitions_for_topic(topic)
    if not ids:
        raise LookupError(f"topic {topic!r} does not exist (run 'streamwatch topics apply')")
    return set(ids)


async def _read(
    consumer: AIOKafkaConsumer, tp: TopicPartition, begin: int, stop: int, wanted: bytes | None
) -> list[tuple[bytes, tuple[int, bytes | None]]]:
    out: list[tuple[bytes, tuple[int, bytes | None]]] = []
    if begin >= stop:
        return out
    consumer.seek(tp, begin)
    while True:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        for record in batch.get(tp, []):
            if record.offset >= stop:
                return out
            if wanted is None or record.key == wanted:
                out.append((record.value or b"", (record.offset, record.key)))
        if await consumer.position(tp) >= stop:
            return out


def _origin(tp: TopicPartition) -> Callable[[Any], dict[str, Any]]:
    def origin(position: tuple[int, bytes | None]) -> dict[str, Any]:
        offset, key = position
        return {
            "topic": tp.topic,
            "partition": tp.partition,
            "offset": offset,
            "key": key.decode("utf-8", "replace") if key is not None else None,
        }

    return origin

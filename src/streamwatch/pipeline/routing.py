"""Which input partition a customer's events are on: Kafka's default partitioner for keyed
messages (murmur2 of the key), as the producers of the input topics place them."""

from __future__ import annotations

from typing import Final

from aiokafka.partitioner import murmur2

DEFAULT_PARTITIONS: Final = 4
"""Partitions of the input topics in the packaged catalogue (``streamwatch/topics``, environment
``dev``); replay splits its input the same way unless told otherwise, so it sweeps as a worker
does."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a message keyed ``key``."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions

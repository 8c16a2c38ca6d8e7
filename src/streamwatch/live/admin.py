"""Create the catalogue's topics on a broker, or check existing ones against it.

``apply_catalogue`` creates what is missing and reports drift (partition count, replication
factor, or a listed config whose value differs) for what exists; it never alters an existing
topic, because changing partitions breaks co-partitioning and keyed state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streamwatch.live.catalogue import TopicSpec

TOPIC_ALREADY_EXISTS: Final = 36
UNKNOWN_TOPIC: Final = 3


class AdminError(RuntimeError):
    """The broker refused a request; the message has its error code and text."""


@dataclass(frozen=True, slots=True)
class Drift:
    """One way an existing topic differs from the catalogue."""

    topic: str
    setting: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return (
            f"{self.topic}: {self.setting} is {self.actual} on the broker, "
            f"the catalogue says {self.expected}"
        )


@dataclass(slots=True)
class ApplyResult:
    """What ``apply_catalogue`` did: topics created, found as specified, or found drifted."""

    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every topic exists as the catalogue says."""
        return not self.drift and not self.missing


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic as the broker has it."""

    partitions: int
    replication_factor: int
    config: dict[str, str]


async def apply_catalogue(
    bootstrap_servers: Sequence[str],
    specs: Sequence[TopicSpec],
    prefix: str = "",
    *,
    create: bool = True,
) -> ApplyResult:
    """Create missing topics (unless ``create`` is false) and check the rest.

    Raises AdminError if the broker refuses to create a topic, KafkaConnectionError if it
    cannot be reached.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=list(bootstrap_servers))
    await admin.start()
    try:
        result = ApplyResult()
        names = {spec.prefixed(prefix): spec for spec in specs}
        existing = await describe(admin, list(names))
        missing = [spec for name, spec in names.items() if name not in existing]
        if missing and create:
            await create_topics(admin, missing, prefix)
            result.created.extend(spec.prefixed(prefix) for spec in missing)
        elif missing:
            result.missing.extend(spec.prefixed(prefix) for spec in missing)
        for name, state in sorted(existing.items()):
            drift = compare(names[name], name, state)
            if drift:
                result.drift.extend(drift)
            else:
                result.unchanged.append(name)
        return result
    finally:
        await admin.close()


def compare(spec: TopicSpec, name: str, state: TopicState) -> list[Drift]:
    """How the broker's ``state`` of topic ``name`` differs from ``spec`` (empty if not)."""
    drift = []
    if state.partitions != spec.partitions:
        drift.append(Drift(name, "partitions", str(spec.partitions), str(state.partitions)))
    if state.replication_factor != spec.replication_factor:
        drift.append(
            Drift(
                name,
                "replication_factor",
                str(spec.replication_factor),
                str(state.replication_factor),
            )
        )
    for key, expected in sorted(spec.config.items()):
        actual = state.config.get(key, "<unset>")
        if actual != expected:
            drift.append(Drift(name, key, expected, actual))
    return drift


async def describe(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, TopicState]:
    """The broker's view of those of ``names`` that exist."""
    topics = await admin.describe_topics(names)
    found: dict[str, dict[str, Any]] = {
        t["topic"]: t for t in topics if t["error_code"] == 0 and t["partitions"]
    }
    for t in topics:
        if t["error_code"] not in (0, UNKNOWN_TOPIC):
            raise AdminError(f"describing topic {t['topic']} failed: error {t['error_code']}")
    if not found:
        return {}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in found]
    )
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise AdminError(
                    f"describing configs of {resource['resource_name']} failed: "
                    f"error {resource['error_code']} {resource['error_message']}"
                )
            configs[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
            }
    return {
        name: TopicState(
            partitions=len(t["partitions"]),
            replication_factor=min(len(p["replicas"]) for p in t["partitions"]),
            config=configs.get(name, {}),
        )
        for name, t in found.items()
    }


async def create_topics(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec], prefix: str = ""
) -> None:
    """Create ``specs``; one that exists already (made meanwhile by another process) is fine."""
    response = await admin.create_topics(
        [
            NewTopic(
                spec.prefixed(prefix),
                spec.partitions,
                spec.replication_factor,
                topic_configs=dict(spec.config),
            )
            for spec in specs
        ]
    )
    for error in response.to_object()["topic_errors"]:
        # Another process may have created it between our describe and create.
        if error["error_code"] not in (0, TOPIC_ALREADY_EXISTS):
            raise AdminError(
                f"creating topic {error['topic']} failed: error {error['error_code']} "
                f"{error['error_message']}"
            )

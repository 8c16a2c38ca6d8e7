"""Create the catalogue's topics on a broker, bring existing ones to it, or check them.

``plan_changes`` compares the broker with the catalogue and sorts each difference by what can
be done about it: a missing topic is created; a topic config that differs is set (the topic's
config overrides become the catalogue's); a topic with fewer partitions than the catalogue can
grow, but only when asked (``grow_partitions``), because growing moves customers to other
partitions and with them the keyed state; what Kafka cannot change in place (fewer partitions,
another replication factor) is reported for a person to handle. ``apply_catalogue`` carries a
plan out, or only reports it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streamwatch.live.catalogue import TopicSpec

CONFIGURE_TIMEOUT_S: Final = 15.0
CONFIGURE_CHECKS: Final = 4
CONFIGURE_CHECK_S: Final = 0.25
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
class Plan:
    """What it takes to bring the broker to the catalogue, by what can be done about it."""

    create: list[TopicSpec] = field(default_factory=list)
    """Topics missing on the broker (specs named as on the broker)."""
    configure: dict[str, dict[str, str]] = field(default_factory=dict)
    """Topics whose configs differ: the full config each should have."""
    config_changes: list[Drift] = field(default_factory=list)
    grow: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Topics with fewer partitions than the catalogue: (now, wanted)."""
    cannot: list[Drift] = field(default_factory=list)
    """Differences Kafka cannot change in place (fewer partitions, replication factor)."""
    unchanged: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        """True when every topic exists as the catalogue says."""
        return not (self.create or self.configure or self.grow or self.cannot)


@dataclass(slots=True)
class ApplyResult:
    """What ``apply_catalogue`` did with its plan: topics created, configured and grown;
    what stays different (not grown because not asked to, or not changeable)."""

    plan: Plan
    created: list[str] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    remaining: list[Drift] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the broker matches the catalogue now."""
        return not self.remaining


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic as the broker has it."""

    partitions: int
    replication_factor: int
    config: dict[str, str]


async def apply_catalogue(
    kafka: Mapping[str, Any],
    specs: Sequence[TopicSpec],
    prefix: str = "",
    *,
    change: bool = True,
    grow_partitions: bool = False,
) -> ApplyResult:
    """Plan the broker's changes and, with ``change``, carry them out: create missing topics,
    set differing configs and, with ``grow_partitions``, add partitions. ``kafka`` holds the
    client options (``streamwatch.kafka_clients.client_options``). Without ``change`` nothing
    is touched and every difference remains.

    Raises AdminError if the broker refuses a change, KafkaConnectionError if it cannot be
    reached.
    """
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        named = [replace(spec, name=spec.prefixed(prefix)) for spec in specs]
        existing = await describe(admin, [spec.name for spec in named])
        plan = plan_changes(named, existing)
        result = ApplyResult(plan)
        if not change:
            result.remaining = pending(plan, grow_partitions=False)
            return result
        if plan.create:
            await create_topics(admin, plan.create)
            result.created.extend(spec.name for spec in plan.create)
        if plan.configure:
            await _configure(admin, plan.configure)
            result.configured.extend(sorted(plan.configure))
        if plan.grow and grow_partitions:
            await admin.create_partitions(
                {name: NewPartitions(wanted) for name, (_, wanted) in plan.grow.items()}
            )
            result.grown.extend(sorted(plan.grow))
        result.remaining = pending(plan, grow_partitions=grow_partitions, done=True)
        return result
    finally:
        await admin.close()


def plan_changes(specs: Sequence[TopicSpec], existing: Mapping[str, TopicState]) -> Plan:
    """What brings topics named as in ``specs`` from ``existing`` (the broker's, by name) to
    the specs. Pure."""
    plan = Plan()
    for spec in specs:
        state = existing.get(spec.name)
        if state is None:
            plan.create.append(spec)
            continue
        drift = compare(spec, spec.name, state)
        if not drift:
            plan.unchanged.append(spec.name)
        for item in drift:
            if item.setting == "partitions" and state.partitions < spec.partitions:
                plan.grow[spec.name] = (state.partitions, spec.partitions)
            elif item.setting in ("partitions", "replication_factor"):
                plan.cannot.append(item)
            else:
                plan.config_changes.append(item)
                plan.configure[spec.name] = dict(spec.config)
    return plan


def pending(plan: Plan, *, grow_partitions: bool, done: bool = False) -> list[Drift]:
    """The differences ``plan`` leaves: all of them before it is carried out; once ``done``,
    the partitions not grown (unless ``grow_partitions``) and what cannot change."""
    left = list(plan.cannot)
    if not grow_partitions:
        left += [
            Drift(name, "partitions", str(wanted), str(now))
            for name, (now, wanted) in sorted(plan.grow.items())
        ]
    if not done:
        left += [Drift(spec.name, "topic", "present", "missing") for spec in plan.create]
        left += plan.config_changes
    return left


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
    for resource in _resources(responses, "describing configs of"):
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


async def _configure(admin: AIOKafkaAdminClient, configs: Mapping[str, dict[str, str]]) -> None:
    """Set each topic's configs and wait until the broker describes them so. The request is
    sent again while it does not: a broker has been seen to acknowledge one that it then did
    not apply."""
    deadline = time.monotonic() + CONFIGURE_TIMEOUT_S
    left = dict(configs)
    while left:
        # AlterConfigs (not the incremental kind): the topic's overrides become exactly these.
        responses = await admin.alter_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name, config)
                for name, config in left.items()
            ]
        )
        _resources(responses, "setting the configs of")
        for _ in range(CONFIGURE_CHECKS):
            await asyncio.sleep(CONFIGURE_CHECK_S)
            found = await describe(admin, list(left))
            left = {
                name: config
                for name, config in left.items()
                if name not in found
                or any(found[name].config.get(k) != v for k, v in config.items())
            }
            if not left:
                return
        if time.monotonic() > deadline:
            raise AdminError(f"the broker did not apply the configs of {sorted(left)}")


def _resources(responses: Sequence[Any], doing: str) -> list[dict[str, Any]]:
    """The resources of config responses; raises AdminError for the first that failed."""
    resources = [r for response in responses for r in response.to_object()["resources"]]
    for resource in resources:
        if resource["error_code"]:
            raise AdminError(
                f"{doing} {resource['resource_name']} failed: "
                f"error {resource['error_code']} {resource['error_message']}"
            )
    return resources


async def create_topics(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    """Create ``specs`` (named as on the broker); one that exists already (made meanwhile by
    another process) is fine."""
    response = await admin.create_topics(
        [
            NewTopic(
                spec.name,
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

"""The topic catalogue: loading it, and comparing a broker's topic with it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streamwatch.live.admin import TopicState, compare, pending, plan_changes
from streamwatch.live.catalogue import (
    CatalogueError,
    TopicSpec,
    environments,
    load_catalogue,
    packaged_catalogue,
)


def test_repository_catalogue_loads_sorted_with_configs():
    specs = load_catalogue()
    assert [s.name for s in specs] == sorted(s.name for s in specs)
    dead_letter = next(s for s in specs if s.name == "dead-letter")
    assert dead_letter.config["max.message.bytes"] == "16777216"
    assert dead_letter.prefixed("x.") == "x.dead-letter"


def _write(directory: Path, name: str, doc: object) -> None:
    (directory / f"{name}.json").write_bytes(orjson.dumps(doc))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1], "JSON object"),
        ({"partitions": 1, "replication_factor": 1}, "'name'"),
        ({"name": "t", "partitions": "4", "replication_factor": 1}, "'partitions'"),
        ({"name": "t", "partitions": 0, "replication_factor": 1}, ">= 1"),
        ({"name": "t", "partitions": 1, "replication_factor": 1, "config": {"a": 1}}, "config"),
    ],
    ids=["not-object", "no-name", "partitions-string", "zero-partitions", "config-not-strings"],
)
def test_malformed_topic_file_is_refused_naming_the_field(tmp_path, doc, message):
    _write(tmp_path, "t", doc)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(tmp_path)


def test_empty_or_missing_catalogue_is_refused(tmp_path):
    with pytest.raises(CatalogueError, match="no"):
        load_catalogue(tmp_path)
    with pytest.raises(CatalogueError, match="not a directory"):
        load_catalogue(tmp_path / "absent")


def test_same_topic_twice_is_refused(tmp_path):
    spec = {"name": "t", "partitions": 1, "replication_factor": 1}
    _write(tmp_path, "a", spec)
    _write(tmp_path, "b", spec)
    with pytest.raises(CatalogueError, match="twice"):
        load_catalogue(tmp_path)


SPEC = TopicSpec("alerts", 4, 1, {"retention.ms": "100", "cleanup.policy": "delete"})


def test_topic_as_specified_has_no_drift():
    state = TopicState(4, 1, {"retention.ms": "100", "cleanup.policy": "delete", "x": "y"})
    assert compare(SPEC, "p.alerts", state) == []


def test_drift_names_partitions_replication_and_each_config():
    state = TopicState(8, 2, {"retention.ms": "5"})
    drift = compare(SPEC, "p.alerts", state)
    assert [(d.setting, d.expected, d.actual) for d in drift] == [
        ("partitions", "4", "8"),
        ("replication_factor", "1", "2"),
        ("cleanup.policy", "delete", "<unset>"),
        ("retention.ms", "100", "5"),
    ]
    assert str(drift[0]) == "p.alerts: partitions is 8 on the broker, the catalogue says 4"


@pytest.mark.parametrize("environment", sorted(environments(packaged_catalogue())))
def test_every_environment_keeps_all_topics_co_partitioned(environment):
    specs = load_catalogue(None, environment)
    assert len({spec.partitions for spec in specs}) == 1


def test_an_environment_sizes_every_topic_and_overrides_single_ones():
    dev = {spec.name: spec for spec in load_catalogue(None, "dev")}
    prod = {spec.name: spec for spec in load_catalogue(None, "prod")}
    assert (dev["usage"].partitions, dev["usage"].replication_factor) == (4, 1)
    assert (prod["usage"].partitions, prod["usage"].replication_factor) == (12, 3)
    assert prod["usage"].config["min.insync.replicas"] == "2"
    assert prod["usage"].config["retention.ms"] == str(30 * 86_400_000)
    assert prod["usage"].config["max.message.bytes"] == dev["usage"].config["max.message.bytes"]


def test_an_unknown_environment_is_refused_naming_the_known_ones():
    with pytest.raises(CatalogueError, match=r"has no environment 'qa' .*dev, prod, staging"):
        load_catalogue(None, "qa")


def test_a_malformed_environment_is_refused_naming_it(tmp_path):
    _write(tmp_path, "t", {"name": "t", "partitions": 1, "replication_factor": 1})
    _write(tmp_path, "environments", {"prod": {"partitions": 0}})
    with pytest.raises(CatalogueError, match="environment 'prod': 'partitions'"):
        load_catalogue(tmp_path, "prod")


def test_plan_sorts_each_difference_by_what_can_be_done():
    specs = [
        TopicSpec("p.a", 4, 1, {"retention.ms": "100"}),
        TopicSpec("p.b", 4, 1, {"retention.ms": "100"}),
        TopicSpec("p.c", 4, 1, {"retention.ms": "100"}),
        TopicSpec("p.d", 4, 3, {"retention.ms": "100"}),
        TopicSpec("p.e", 4, 1, {"retention.ms": "100"}),
    ]
    existing = {
        "p.b": TopicState(4, 1, {"retention.ms": "5"}),
        "p.c": TopicState(2, 1, {"retention.ms": "100"}),
        "p.d": TopicState(8, 1, {"retention.ms": "100"}),
        "p.e": TopicState(4, 1, {"retention.ms": "100"}),
    }
    plan = plan_changes(specs, existing)
    assert [spec.name for spec in plan.create] == ["p.a"]
    assert plan.configure == {"p.b": {"retention.ms": "100"}}
    assert plan.grow == {"p.c": (2, 4)}
    assert [(d.topic, d.setting) for d in plan.cannot] == [
        ("p.d", "partitions"),
        ("p.d", "replication_factor"),
    ]
    assert plan.unchanged == ["p.e"]
    assert not plan.in_sync
    assert [(d.topic, d.setting) for d in pending(plan, grow_partitions=True, done=True)] == [
        ("p.d", "partitions"),
        ("p.d", "replication_factor"),
    ]

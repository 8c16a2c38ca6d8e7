"""The topic catalogue: loading it, and comparing a broker's topic with it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streamwatch.live.admin import TopicState, compare
from streamwatch.live.catalogue import CatalogueError, TopicSpec, load_catalogue

REPO = Path(__file__).resolve().parents[3]


def test_repository_catalogue_loads_sorted_with_configs():
    specs = load_catalogue(REPO / "topics")
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
